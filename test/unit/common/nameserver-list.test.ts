import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../common/errors.js';
import { NameserverList } from '../../../common/nameserver-list.js';
import { rejectionOf } from '../../helpers/errors.js';

describe('NameserverList', () => {
  it('keeps IP literals as given and never looks them up', async () => {
    const list = new NameserverList({
      nameservers: '127.0.0.1:9876, [::1]:9876',
      lookup: () => {
        throw new Error('must not be called');
      },
    });
    expect(list.hasDnsNames).toBe(false);
    expect(await list.resolveIfDue(true)).toEqual(['127.0.0.1:9876', '[::1]:9876']);
  });

  it('expands a DNS name to all its addresses, deduplicated, on the entry port', async () => {
    const list = new NameserverList({ nameservers: ['ns.svc:9876', '10.0.0.1:9876'], lookup: async () => ['10.0.0.1', '10.0.0.2', 'fd00::3'] });
    expect(list.addresses).toEqual([]);
    expect(await list.resolveIfDue()).toEqual(['10.0.0.1:9876', '10.0.0.2:9876', '[fd00::3]:9876']);
  });

  it('re-resolves only after the interval, unless forced', async () => {
    let now = 0;
    let calls = 0;
    const list = new NameserverList({ nameservers: 'ns.svc:1', resolveIntervalMs: 1_000, now: () => now, lookup: async () => [`10.0.0.${++calls}`] });
    expect(await list.resolveIfDue()).toEqual(['10.0.0.1:1']);
    now = 999;
    expect(await list.resolveIfDue()).toEqual(['10.0.0.1:1']);
    now = 1_000;
    expect(await list.resolveIfDue()).toEqual(['10.0.0.2:1']);
    expect(await list.resolveIfDue(true)).toEqual(['10.0.0.3:1']);
  });

  it('keeps the last good addresses when a later lookup fails', async () => {
    let fail = false;
    const list = new NameserverList({ nameservers: 'ns.svc:1', resolveIntervalMs: 0, lookup: async () => {
      if (fail) throw new Error('ENOTFOUND');
      return ['10.0.0.1'];
    } });
    expect(await list.resolveIfDue()).toEqual(['10.0.0.1:1']);
    fail = true;
    expect(await list.resolveIfDue()).toEqual(['10.0.0.1:1']);
  });

  it('says SERVICE_UNAVAILABLE naming the host when nothing ever resolved', async () => {
    const list = new NameserverList({ nameservers: 'nowhere.invalid:1', lookup: async () => {
      throw new Error('ENOTFOUND nowhere.invalid');
    } });
    const err = await rejectionOf(list.resolveIfDue());
    expect(err.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    expect(err.message).toContain('nowhere.invalid');
  });

  it('rejects an empty or malformed list with INVALID_ARGUMENT', () => {
    expect(() => new NameserverList({ nameservers: '' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => new NameserverList({ nameservers: 'ns.svc' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
