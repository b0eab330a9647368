// A SendStream frame that carries several queues' sends (SendStreamRequest.requests; docs/wire.md
// "Several queues in one frame"): each is served exactly as a Send of its own — the same service
// code, through the same RequestRunner (gate, metrics by method 'send', error log), atomic per
// queue, its own errors and de-duplication — but all are issued in the same tick, so their appends
// meet in one group commit (one write, one fsync under sync flush) and one replication chunk, and
// the frame is answered once, with a result per send in order (SendStreamResponse.multi). Nothing
// of a frame is served when the frame itself is refused (too many sends).
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { toErrorDetail } from '../../common/grpc.js';
import { SEND_FRAME_REQUESTS_MAX } from '../../common/stream-frames.js';
import { conveyor } from '../../proto/index.js';
import type { RequestRunner } from './request-runner.js';

/**
 * The sends of a frame that carries several (`requests`), or undefined for a plain frame. A frame
 * that also carries `request` is a plain frame (as a broker before `requests` sees it).
 */
export function sendRequestsOf(frame: object): conveyor.SendRequest[] | undefined {
  const { request, requests } = frame as { request?: unknown; requests?: unknown };
  if (request != null || !Array.isArray(requests) || requests.length === 0) return undefined;
  for (const r of requests) if (!(r instanceof conveyor.SendRequest)) return undefined;
  return requests as conveyor.SendRequest[];
}

/**
 * Serves the sends of one frame, all started before the first await, and answers one result per
 * send: its response, or its error as a unary Send would carry it. Throws INVALID_ARGUMENT
 * (nothing served) for more than SEND_FRAME_REQUESTS_MAX sends.
 */
export async function serveSends(requests: readonly conveyor.SendRequest[], run: RequestRunner, send: (request: conveyor.SendRequest) => Promise<conveyor.ISendResponse>): Promise<conveyor.ISendMultiResponse> {
  if (requests.length > SEND_FRAME_REQUESTS_MAX) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `a SendStream frame carries ${requests.length} sends, over the limit of ${SEND_FRAME_REQUESTS_MAX}; send them in several frames`, { count: requests.length, max: SEND_FRAME_REQUESTS_MAX });
  }
  const results = await Promise.all(
    requests.map((request) =>
      run('send', () => send(request)).then(
        (response): conveyor.ISendSubResult => ({ response }),
        (err: unknown): conveyor.ISendSubResult => ({ error: toErrorDetail(err) }),
      ),
    ),
  );
  return { results };
}
