// `conveyor broker …`: parse flags, load and validate the config (flags > CONVEYOR_* env > file >
// defaults), log it once, start the broker, stop cleanly on SIGTERM/SIGINT.
import { envVarName, loadConfig, redactConfig } from '../common/config.js';
import { isConveyorError } from '../common/errors.js';
import { installShutdown } from '../common/lifecycle.js';
import { createLogger } from '../common/logging.js';
import { Broker } from './broker.js';
import { BROKER_SETTINGS, parseBrokerFlags, type BrokerConfig } from './config.js';

/** Exit code for a configuration the process cannot start with. */
const EXIT_CONFIG_INVALID = 2;
const EXIT_START_FAILED = 1;

/** Entry of `conveyor broker …`; argv[0] is 'broker'. */
export async function main(argv: string[]): Promise<void> {
  const flags = parseBrokerFlags(argv.slice(1));
  const file = (flags.config as string | undefined) ?? process.env[envVarName('config')];
  let config: BrokerConfig;
  try {
    config = loadConfig(BROKER_SETTINGS, { flags, env: process.env, file: file === undefined || file === '' ? undefined : file });
  } catch (err) {
    if (!isConveyorError(err)) throw err;
    process.stderr.write(`conveyor broker: ${err.message}\n`);
    process.exitCode = EXIT_CONFIG_INVALID;
    return;
  }

  const log = createLogger({ name: `${config.brokerName}-${config.brokerId}`, level: config.logLevel });
  log.info({ config: redactConfig(BROKER_SETTINGS, config) }, 'broker starting');
  let broker: Broker;
  try {
    broker = await Broker.start(config, { log });
  } catch (err) {
    log.fatal({ err }, 'broker failed to start');
    process.exitCode = EXIT_START_FAILED;
    return;
  }
  installShutdown(log, () => broker.stop());
}
