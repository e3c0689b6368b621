"""Executes a notebook for real with nbclient (Debian's python3-nbclient) in Debian's python3
kernel, and prints every cell's text output; a cell that fails exits 1 with its error.

    /usr/bin/python3 run_notebook.py <notebook> <executed copy> <working folder>
"""

import sys

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

src, out, cwd = sys.argv[1:4]
spec = KernelSpecManager().get_kernel_spec("python3")
if spec.argv[0] != sys.executable:
    sys.exit(f"the python3 kernel runs {spec.argv[0]}, not {sys.executable}: remove the other python3 kernelspec (jupyter kernelspec list)")
nb = nbformat.read(src, as_version=4)
client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": cwd}})
try:
    client.execute()
except CellExecutionError as e:
    nbformat.write(nb, out)
    print(f"a cell failed (executed copy in {out}):\n{e}", file=sys.stderr)
    sys.exit(1)
nbformat.write(nb, out)
for i, cell in enumerate(nb.cells):
    if cell.cell_type != "code":
        continue
    for o in cell.outputs:
        text = o.get("text") if o.output_type == "stream" else (o.get("data") or {}).get("text/plain")
        if text:
            print(f"[cell {i} {o.output_type}] {text.rstrip()}")
