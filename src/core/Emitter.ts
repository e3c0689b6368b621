/**
 * The project's one way to register listeners: a small typed event. `thing.onMessage(fn)`
 * subscribes and returns the function that unsubscribes (VS Code's `Event<T>` shape, so the
 * extension's own events look like the editor's). Chosen over Node's EventEmitter, which only the
 * signaling client used: events are typed one by one instead of by name strings, there is no
 * `once`/`off`/max-listeners surface to get wrong, and it runs in the extension, the agent and the
 * worker alike. (The extension keeps vscode.EventEmitter where it hands events to VS Code itself,
 * e.g. a tree's onDidChangeTreeData.)
 *
 * Listeners are called in the order they subscribed, on a copy of the list (one that subscribes
 * or unsubscribes meanwhile does not disturb the others). A listener that throws is reported to
 * `onError` and does not stop the others; with `rethrow` its error goes to the code that fired,
 * as a plain loop over the listeners would, and the listeners after it are not called.
 */
export type Listener<T> = (value: T) => void;
export type Unsubscribe = () => void;
export type Subscribe<T> = (listener: Listener<T>) => Unsubscribe;

export class Emitter<T> {
  private listeners = new Set<Listener<T>>();

  constructor(private readonly onError: (e: unknown) => void = () => undefined) {}

  readonly event: Subscribe<T> = (listener) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  fire(value: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(value);
      } catch (e) {
        this.onError(e);
      }
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}

/** The `onError` of an emitter whose listeners' failures belong to the code that fires. */
export function rethrow(e: unknown): never {
  throw e;
}
