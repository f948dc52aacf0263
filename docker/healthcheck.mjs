// Container health probe: the slim runtime images ship neither curl nor wget, so Node does the GET.
// Usage: node healthcheck.mjs <PORT_ENV_NAME> <default port> <path>
//   e.g. node healthcheck.mjs INGEST_PORT 3000 /healthz
// The port is read from the same env var the app listens on, so overriding it keeps the probe honest.
const [portEnvName = 'PORT', fallbackPort = '3000', path = '/healthz'] = process.argv.slice(2);
const port = process.env[portEnvName] || fallbackPort;
const url = `http://127.0.0.1:${port}${path}`;

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) {
    console.error(`${url} answered ${response.status}`);
    process.exit(1);
  }
  process.exit(0);
} catch (error) {
  console.error(`${url} unreachable: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
