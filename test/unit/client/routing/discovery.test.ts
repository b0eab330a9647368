import { describe, expect, it } from 'vitest';
import { Discovery, NameserverRotation, type NameserverTransport } from '../../../../client/routing/discovery.js';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';
import type { ClientMethod } from '../../../../common/grpc.js';
import { NameServerService } from '../../../../proto/index.js';

const down = (address: string): ConveyorError => new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `${address} down`, {});

/** A fake transport: each address either answers with its own name or fails with the given error. */
function fakeTransport(behaviour: Record<string, 'ok' | ConveyorError>, calls: string[]): NameserverTransport {
  return async <Req, Res>(address: string, _method: ClientMethod<Req, Res>, _request: Req): Promise<Res> => {
    calls.push(address);
    const b = behaviour[address] ?? down(address);
    if (b === 'ok') return { topic: address, queues: [], brokers: [] } as unknown as Res;
    throw b;
  };
}

describe('nameserver rotation', () => {
  it('keeps the nameserver that answered first and moves on from one that failed', () => {
    const rotation = new NameserverRotation();
    rotation.update(['a:1', 'b:1', 'c:1']);
    expect(rotation.order()).toEqual(['a:1', 'b:1', 'c:1']);
    rotation.failed('a:1');
    expect(rotation.order()).toEqual(['b:1', 'c:1', 'a:1']);
    rotation.succeeded('c:1');
    expect(rotation.order()).toEqual(['c:1', 'a:1', 'b:1']);
    rotation.update(['b:1', 'c:1', 'd:1']);
    expect(rotation.order()[0]).toBe('c:1');
    rotation.update(['x:1']);
    expect(rotation.order()).toEqual(['x:1']);
  });
});

describe('discovery', () => {
  it('fails over to the next nameserver and keeps using the one that answered', async () => {
    const calls: string[] = [];
    const discovery = new Discovery({ nameservers: '10.0.0.1:9876,10.0.0.2:9876' }, fakeTransport({ '10.0.0.2:9876': 'ok' }, calls));
    expect((await discovery.getRoute('t')).topic).toBe('10.0.0.2:9876');
    expect(calls).toEqual(['10.0.0.1:9876', '10.0.0.2:9876']);
    await discovery.getRoute('t');
    expect(calls).toEqual(['10.0.0.1:9876', '10.0.0.2:9876', '10.0.0.2:9876']);
  });

  it('returns an answer with a meaning (TOPIC_NOT_FOUND) at once instead of failing over', async () => {
    const calls: string[] = [];
    const notFound = new ConveyorError(ErrorCode.TOPIC_NOT_FOUND, 'no such topic', {});
    const discovery = new Discovery({ nameservers: ['10.0.0.1:1', '10.0.0.2:1'] }, fakeTransport({ '10.0.0.1:1': notFound, '10.0.0.2:1': 'ok' }, calls));
    await expect(discovery.getRoute('t')).rejects.toMatchObject({ code: ErrorCode.TOPIC_NOT_FOUND });
    expect(calls).toEqual(['10.0.0.1:1']);
  });

  it('says SERVICE_UNAVAILABLE naming every nameserver when none answers', async () => {
    const discovery = new Discovery({ nameservers: '10.0.0.1:1,10.0.0.2:1' }, fakeTransport({}, []));
    const err = await discovery.getRoute('t').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
    expect((err as Error).message).toContain('10.0.0.1:1, 10.0.0.2:1');
  });

  it('resolves a DNS name to all its addresses, again on an interval and when all fail', async () => {
    let now = 0;
    let answer = ['10.1.0.1', '10.1.0.2'];
    let lookups = 0;
    const calls: string[] = [];
    const behaviour: Record<string, 'ok' | ConveyorError> = { '10.1.0.2:9876': 'ok', '10.1.0.3:9876': 'ok' };
    const discovery = new Discovery(
      { nameservers: 'nameserver.conveyor.svc:9876', resolveIntervalMs: 1_000, now: () => now, lookup: async () => (lookups++, answer) },
      fakeTransport(behaviour, calls),
    );
    expect((await discovery.getRoute('t')).topic).toBe('10.1.0.2:9876');
    expect(discovery.rotation.addresses).toEqual(['10.1.0.1:9876', '10.1.0.2:9876']);
    expect(lookups).toBe(1);
    await discovery.getRoute('t');
    expect(lookups).toBe(1);
    now = 1_000;
    answer = ['10.1.0.2', '10.1.0.3'];
    await discovery.getRoute('t');
    expect(lookups).toBe(2);
    expect(discovery.rotation.addresses).toEqual(['10.1.0.2:9876', '10.1.0.3:9876']);
    // The pods were replaced: every known address fails, so the name is resolved once more.
    delete behaviour['10.1.0.2:9876'];
    delete behaviour['10.1.0.3:9876'];
    behaviour['10.1.0.9:9876'] = 'ok';
    answer = ['10.1.0.9'];
    expect((await discovery.getRoute('t')).topic).toBe('10.1.0.9:9876');
    expect(lookups).toBe(3);
  });

  it('refuses a malformed or empty nameserver list with INVALID_ARGUMENT', () => {
    const transport = fakeTransport({}, []);
    expect(() => new Discovery({ nameservers: 'nohostport' }, transport)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => new Discovery({ nameservers: '' }, transport)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });

  it('asks GetRoute with the topic', async () => {
    const seen: unknown[] = [];
    const transport: NameserverTransport = async <Req, Res>(_a: string, method: ClientMethod<Req, Res>, request: Req): Promise<Res> => {
      seen.push([method.path, request]);
      return { topic: 'x', queues: [], brokers: [] } as unknown as Res;
    };
    await new Discovery({ nameservers: '127.0.0.1:1' }, transport).getRoute('orders');
    expect(seen).toEqual([[NameServerService.getRoute.path, { topic: 'orders' }]]);
  });
});
