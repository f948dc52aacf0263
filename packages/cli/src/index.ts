export { runCli, cliVersion, DEFAULT_URL, DEFAULT_API_KEY } from './cli.js';
export { ExitCode, UsageError, ApiError, ConnectionError } from './errors.js';
export { connectApi, unwrap, everyPage } from './client.js';
export { commands } from './commands/index.js';
export type { Command, Context } from './command.js';
export { table, keyValues, Progress, type Io } from './output.js';
