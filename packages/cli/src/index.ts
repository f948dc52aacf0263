export { runCli, ExitCode, UsageError, DEFAULT_URL, DEFAULT_API_KEY } from './cli.js';
export { ApiClient, ApiError, ConnectionError, type ApiClientOptions } from './api.js';
export { table, keyValues, Progress, type Io } from './output.js';
