/**
 * A small typed event: `link.onMessage(fn)` subscribes and returns the function that
 * unsubscribes (VS Code's `Event<T>` shape). A listener that throws is reported to `onError`
 * and does not stop the others or the link.
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
