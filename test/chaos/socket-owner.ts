// Which local process owns the other end of a loopback TCP connection (Linux /proc): the proxy in
// front of a master uses it to tell its slave's replication connection from client connections,
// so that "cut the replication link" cuts exactly that and nothing else.
import { readFile, readdir, readlink } from 'node:fs/promises';

/** `127.0.0.1:5000` as /proc/net/tcp writes it: `0100007F:1388` (address little-endian hex). */
export function procNetAddress(ip: string, port: number): string {
  const parts = ip.split('.').map((p) => Number(p));
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  const hex = [...parts].reverse().map((p) => p.toString(16).padStart(2, '0')).join('').toUpperCase();
  return `${hex}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
}

/** The socket inode of the connection whose local end is `local` and remote end `remote`, from /proc/net/tcp text. */
export function findSocketInode(procNetTcp: string, local: string, remote: string): number | undefined {
  for (const line of procNetTcp.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    if (fields[1] === local && fields[2] === remote) {
      const inode = Number(fields[9]);
      return Number.isSafeInteger(inode) && inode > 0 ? inode : undefined;
    }
  }
  return undefined;
}

/** Socket inodes held open by a process (empty if it is gone). */
export async function socketInodesOf(pid: number): Promise<Set<number>> {
  const inodes = new Set<number>();
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  await Promise.all(
    fds.map(async (fd) => {
      try {
        const target = await readlink(`/proc/${pid}/fd/${fd}`);
        const match = /^socket:\[(\d+)\]$/.exec(target);
        if (match) inodes.add(Number(match[1]));
      } catch {
        // The descriptor closed meanwhile.
      }
    }),
  );
  return inodes;
}

/**
 * True when process `pid` owns the client end of the loopback connection from
 * `clientIp:clientPort` to `serverIp:serverPort`.
 */
export async function connectionOwnedBy(pid: number, client: { ip: string; port: number }, server: { ip: string; port: number }): Promise<boolean> {
  const table = await readFile('/proc/net/tcp', 'utf8');
  const inode = findSocketInode(table, procNetAddress(client.ip, client.port), procNetAddress(server.ip, server.port));
  if (inode === undefined) return false;
  return (await socketInodesOf(pid)).has(inode);
}
