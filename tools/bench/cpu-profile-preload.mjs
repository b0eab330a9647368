// CPU profiling of a running Conveyor process for the benchmark suite (`npm run bench -- --profile`).
// Node refuses --cpu-prof in NODE_OPTIONS, so the suite starts the cluster with
//   NODE_OPTIONS="--import <this file>"  CONVEYOR_CPU_PROFILE_DIR=<dir>
// and this preload drives the V8 profiler through the inspector instead: SIGUSR2 starts a
// profile, the next SIGUSR2 stops it and writes <dir>/<role>-<pid>-<n>.cpuprofile (the format
// Chrome DevTools and `node --cpu-prof` use). Nothing happens without the environment variable.
// Plain JavaScript: it runs before tsx is registered.
import { Session } from 'node:inspector';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.CONVEYOR_CPU_PROFILE_DIR;
if (dir) {
  mkdirSync(dir, { recursive: true });
  const role = process.argv[2] ?? 'node';
  const session = new Session();
  session.connect();
  let running = false;
  let written = 0;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => {
        // 200 µs sampling: fine enough for per-message paths, cheap enough to not move the numbers much.
        session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start'));
      });
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, result) => {
      if (err || !result) return;
      written++;
      writeFileSync(join(dir, `${role}-${process.pid}-${written}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
