#!/usr/bin/python3
"""An independent sleap-rtc client peer written with aiortc (Debian python3-aiortc) and
websockets (Debian python3-websockets): no code shared with the project, only its wire protocol.

It joins the room through the server's signaling WebSocket, finds a worker by filters, sends a
job_request, offers a WebRTC connection (aiortc does not trickle: its candidates are in the SDP),
says hello on the DataChannel and follows the job to its end, sending pause then resume once
training progresses.

Configuration (environment only, so the room token never appears on a command line):
  SLEAP_RTC_SIGNALING_URL  ws://127.0.0.1:<port>/ws
  SLEAP_RTC_ROOM_TOKEN     the room's token
  SLEAP_RTC_ROOM           room id (default "lab")
  SLEAP_RTC_JOB_REQUEST    the job_request payload as JSON (else read from stdin)
  AIORTC_TIMEOUT           overall seconds before giving up (default 60)
  AIORTC_PAUSE_SECONDS     how long the job stays paused (default 1.5)
  AIORTC_LOOPBACK          "1" (default): offer only 127.0.0.1 host candidates

stdout: one JSON object per line, in arrival order: every DataChannel message received (verbatim,
with its "type"), every peer_message payload received from the worker (with its
"app_message_type"), and {"sent": <message>} for each command this client sent.
stderr: human-readable progress of the client itself.

Exit codes: 0 job_complete; 2 signaling; 3 job refused; 4 job_failed; 5 timeout;
6 a command not acknowledged ok; 7 WebRTC failure.
"""
import asyncio
import json
import os
import secrets
import sys
import time

import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp


class Fail(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def log(*parts):
    print("[aiortc-client]", *parts, file=sys.stderr, flush=True)


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def patch_loopback():
    # aioice skips 127.0.0.1 when listing host addresses; on a machine with no route between
    # the peers but loopback, offer exactly that (docs/facts.md §3).
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


class Client:
    def __init__(self, url, room, token, request):
        self.url = url
        self.room = room
        self.token = token
        self.request = request
        self.job_id = request["job_id"]
        self.peer_id = "aiortc-" + secrets.token_hex(4)
        self.ws = None
        self.pending = {}  # request_id -> future (register, discover_peers)
        self.peer_messages = asyncio.Queue()
        self.answer = asyncio.get_running_loop().create_future()
        self.early_candidates = []
        self.remote_set = False
        self.worker = None
        self.pc = None
        self.dc = None
        self.acks = {}  # command_id -> future
        self.paused = asyncio.Event()
        self.first_epoch = asyncio.Event()
        self.done = asyncio.get_running_loop().create_future()
        self.signaling_complete = asyncio.get_running_loop().create_future()
        self.tasks = []

    # ---- signaling -------------------------------------------------------------------------

    async def send(self, msg):
        await self.ws.send(json.dumps(msg))

    async def request_reply(self, msg, timeout=10):
        rid = secrets.token_hex(6)
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        await self.send({**msg, "request_id": rid})
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise Fail(2, f"no reply to {msg['type']} within {timeout} s")

    async def read_signaling(self):
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                t = msg.get("type")
                rid = msg.get("request_id")
                if rid in self.pending:
                    self.pending.pop(rid).set_result(msg)
                elif t == "ping":
                    await self.send({"type": "pong"})
                elif t == "peer_message":
                    payload = msg["payload"]
                    emit(payload)
                    if payload.get("app_message_type") == "job_complete" and not self.signaling_complete.done():
                        self.signaling_complete.set_result(payload)
                    await self.peer_messages.put((msg["from_peer_id"], payload))
                elif t == "answer" and msg.get("sender") == self.worker:
                    if not self.answer.done():
                        self.answer.set_result(msg["sdp"])
                elif t == "candidate" and msg.get("sender") == self.worker:
                    await self.remote_candidate(msg.get("candidate"))
                elif t == "error":
                    log("signaling error:", json.dumps(msg))
        except websockets.ConnectionClosed as e:
            log("signaling closed:", e)

    async def remote_candidate(self, c):
        # The worker (werift) trickles its candidates; they are RTCIceCandidateInit dicts.
        if not c or not c.get("candidate"):
            return
        if not self.remote_set:
            self.early_candidates.append(c)
            return
        text = c["candidate"]
        if text.startswith("candidate:"):
            text = text[len("candidate:"):]
        cand = candidate_from_sdp(text)
        # aiortc matches candidates by sdpMid only: fall back to the DataChannel's m-line.
        cand.sdpMid = c.get("sdpMid") if c.get("sdpMid") is not None else self.pc.sctp.mid
        cand.sdpMLineIndex = c.get("sdpMLineIndex")
        try:
            await self.pc.addIceCandidate(cand)
            log("added a trickled candidate:", c["candidate"])
        except Exception as e:  # e.g. after a=end-of-candidates in the answer: the SDP had it already
            log("trickled candidate not added:", repr(e), c["candidate"])

    # ---- DataChannel -----------------------------------------------------------------------

    def dc_send(self, msg):
        self.dc.send(json.dumps(msg))

    def on_dc_message(self, data):
        if isinstance(data, bytes):
            log("unexpected binary frame of", len(data), "bytes")
            return
        msg = json.loads(data)
        emit(msg)
        t = msg.get("type")
        if t == "command_ack":
            fut = self.acks.get(msg.get("command_id"))
            if fut and not fut.done():
                fut.set_result(msg)
        elif t == "status" and msg.get("status") == "paused":
            self.paused.set()
        elif t == "progress" and msg["data"].get("event") == "epoch_end":
            self.first_epoch.set()
        elif t in ("job_complete", "job_failed") and not self.done.done():
            self.done.set_result(msg)

    async def command(self, name, timeout=10):
        cid = f"aiortc-{name}-{secrets.token_hex(3)}"
        msg = {"type": "command", "job_id": self.job_id, "command_id": cid, "command": name}
        self.acks[cid] = asyncio.get_running_loop().create_future()
        emit({"sent": msg})
        self.dc_send(msg)
        try:
            ack = await asyncio.wait_for(self.acks[cid], timeout)
        except asyncio.TimeoutError:
            raise Fail(6, f"{name}: no command_ack within {timeout} s")
        if not ack.get("ok"):
            raise Fail(6, f"{name} refused: {ack.get('error')}")
        log(f"{name} acknowledged")
        return ack

    async def heartbeat(self):
        # The worker declares a silent peer dead (--link-dead-after): say something every second.
        while True:
            await asyncio.sleep(1)
            if self.dc and self.dc.readyState == "open":
                self.dc_send({"type": "heartbeat", "t": time.time() * 1000})

    async def pause_resume(self, pause_seconds):
        await self.first_epoch.wait()
        await self.command("pause")
        try:
            await asyncio.wait_for(self.paused.wait(), 10)
        except asyncio.TimeoutError:
            raise Fail(6, "pause acknowledged but no status paused within 10 s")
        await asyncio.sleep(pause_seconds)
        await self.command("resume")

    # ---- the run ---------------------------------------------------------------------------

    async def run(self, pause_seconds):
        try:
            self.ws = await websockets.connect(self.url, max_size=2**22, ping_interval=None)
        except Exception as e:
            raise Fail(2, f"cannot connect to {self.url}: {e!r}")
        self.tasks.append(asyncio.create_task(self.read_signaling()))

        reg = await self.request_reply({
            "type": "register", "peer_id": self.peer_id, "role": "client", "room_id": self.room,
            "token": self.token, "metadata": {"tags": ["client", "aiortc"], "properties": {}},
        })
        if reg.get("type") != "registered":
            raise Fail(2, f"register refused: {json.dumps(reg)}")
        log("registered as", self.peer_id, "in room", self.room)

        found = await self.request_reply({
            "type": "discover_peers",
            "filters": {"role": "worker", "tags": ["worker"], "properties": {"status": "available"}},
        })
        peers = found.get("peers") or []
        if found.get("type") != "peer_list" or not peers:
            raise Fail(2, f"no available worker: {json.dumps(found)}")
        self.worker = peers[0]["peer_id"]
        log("worker found:", self.worker, json.dumps(peers[0]["metadata"]))

        await self.send({
            "type": "peer_message", "from_peer_id": self.peer_id, "to_peer_id": self.worker,
            "payload": {**self.request, "app_message_type": "job_request"},
        })
        while True:
            frm, payload = await self.peer_messages.get()
            if frm == self.worker and payload.get("app_message_type") == "job_response" and payload.get("job_id") == self.job_id:
                break
        if not payload.get("accepted"):
            raise Fail(3, f"job refused: {payload.get('reason')}")
        log("job accepted:", self.job_id)

        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        opened = asyncio.get_running_loop().create_future()

        @self.pc.on("connectionstatechange")
        def _state():
            log("connection state:", self.pc.connectionState)
            if self.pc.connectionState == "failed" and not opened.done():
                opened.set_exception(Fail(7, "ICE/DTLS failed"))

        self.dc = self.pc.createDataChannel("sleap-rtc", ordered=True)
        self.dc.on("message", self.on_dc_message)
        self.dc.on("open", lambda: opened.done() or opened.set_result(None))
        self.dc.on("close", lambda: log("DataChannel closed"))

        t0 = time.monotonic()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = self.pc.localDescription.sdp
        log("offer has", offer.count("a=candidate:"), "candidates in the SDP; no trickle")
        await self.send({"type": "offer", "sender": self.peer_id, "target": self.worker, "sdp": offer})
        try:
            answer = await asyncio.wait_for(self.answer, 15)
        except asyncio.TimeoutError:
            raise Fail(7, "no answer from the worker within 15 s")
        log("answer has", answer.count("a=candidate:"), "candidates in the SDP")
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        self.remote_set = True
        for c in self.early_candidates:
            await self.remote_candidate(c)
        self.early_candidates.clear()
        try:
            await asyncio.wait_for(opened, 15)
        except asyncio.TimeoutError:
            raise Fail(7, f"DataChannel did not open within 15 s (connection {self.pc.connectionState})")
        log(f"DataChannel open after {1000 * (time.monotonic() - t0):.0f} ms")

        self.tasks.append(asyncio.create_task(self.heartbeat()))
        self.dc_send({"type": "hello", "job_id": self.job_id, "after_seq": 0})
        pr = asyncio.create_task(self.pause_resume(pause_seconds))
        self.tasks.append(pr)

        done_task = asyncio.ensure_future(self.done)
        finished, _ = await asyncio.wait({done_task, pr}, return_when=asyncio.FIRST_COMPLETED)
        if pr in finished and pr.exception():
            raise pr.exception()
        end = await done_task
        if end["type"] == "job_failed":
            raise Fail(4, f"job_failed: {end['error']['code']}: {end['error']['message']}")
        if not pr.done():
            raise Fail(6, f"the job ended ({end['type']}) before pause/resume were acknowledged")
        if pr.exception():
            raise pr.exception()
        log("job_complete: model", end["model_id"])
        try:
            await asyncio.wait_for(asyncio.shield(self.signaling_complete), 5)
        except asyncio.TimeoutError:
            log("no job_complete peer message within 5 s")

    async def close(self):
        for t in self.tasks:
            t.cancel()
        if self.pc:
            await self.pc.close()
        if self.ws:
            await self.ws.close()


async def main():
    url = os.environ.get("SLEAP_RTC_SIGNALING_URL")
    token = os.environ.get("SLEAP_RTC_ROOM_TOKEN")
    if not url or not token:
        log("SLEAP_RTC_SIGNALING_URL and SLEAP_RTC_ROOM_TOKEN are required")
        return 2
    raw = os.environ.get("SLEAP_RTC_JOB_REQUEST") or sys.stdin.read()
    request = json.loads(raw)
    if os.environ.get("AIORTC_LOOPBACK", "1") == "1":
        patch_loopback()
    client = Client(url, os.environ.get("SLEAP_RTC_ROOM", "lab"), token, request)
    timeout = float(os.environ.get("AIORTC_TIMEOUT", "60"))
    try:
        await asyncio.wait_for(client.run(float(os.environ.get("AIORTC_PAUSE_SECONDS", "1.5"))), timeout)
        return 0
    except Fail as e:
        log("FAILED:", e)
        return e.code
    except asyncio.TimeoutError:
        log(f"FAILED: timeout after {timeout} s")
        return 5
    finally:
        await client.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
