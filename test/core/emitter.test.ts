import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Emitter, rethrow } from '../../src/core/Emitter.js';

describe('Emitter: the one way to register listeners', () => {
  test('listeners run in subscription order; unsubscribing, or subscribing, during a fire does not disturb that fire', () => {
    const e = new Emitter<number>();
    const got: string[] = [];
    const offA = e.event((v) => {
      got.push(`a${v}`);
      offA();
      e.event((w) => got.push(`late${w}`));
    });
    e.event((v) => got.push(`b${v}`));
    e.fire(1);
    e.fire(2);
    assert.deepEqual(got, ['a1', 'b1', 'b2', 'late2']);
  });

  test('a listener that throws is reported to onError and the others still run', () => {
    const errors: unknown[] = [];
    const e = new Emitter<string>((err) => errors.push(err));
    const got: string[] = [];
    e.event(() => {
      throw new Error('boom');
    });
    e.event((v) => got.push(v));
    e.fire('x');
    assert.deepEqual(got, ['x']);
    assert.deepEqual(errors.map((x) => (x as Error).message), ['boom']);
  });

  test('with rethrow the error goes to the code that fired and the listeners after it are not called, as a plain loop', () => {
    const e = new Emitter<string>(rethrow);
    const got: string[] = [];
    e.event((v) => got.push(`first ${v}`));
    e.event(() => {
      throw new Error('boom');
    });
    e.event((v) => got.push(`after ${v}`));
    assert.throws(() => e.fire('x'), /boom/);
    assert.deepEqual(got, ['first x']);
  });

  test('dispose drops every listener', () => {
    const e = new Emitter<number>();
    let calls = 0;
    e.event(() => calls++);
    e.dispose();
    e.fire(1);
    assert.equal(calls, 0);
  });
});
