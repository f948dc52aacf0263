import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { commonSchema, ingestSchema, loadIngestConfig, loadSandboxConfig, loadWorkerConfig, sandboxSchema, workerSchema } from '@renotify/config';
import { MetricName } from '@renotify/observability';
import { ALL_QUEUES } from '@renotify/queue';
import { startStack, WorkerRoute, type Stack } from './support.js';

/**
 * Deployment files are checked against the code, not against themselves: env var names against the zod
 * schemas, ports against the schema defaults, probe and scrape paths against the running apps' routes,
 * metric names against MetricName, queue names against QueueName. Renaming any of these without the
 * manifests fails here (the n8n KEDA trigger that watched the wrong key and never scaled is the failure mode).
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (relative: string) => readFileSync(path.join(ROOT, relative), 'utf8');

/** Read by Node itself or by the image, not by our config schemas. */
const RUNTIME_ENV = new Set(['NODE_ENV', 'NODE_OPTIONS']);

const keysOf = (...schemas: Array<{ shape: object }>) => new Set(schemas.flatMap((schema) => Object.keys(schema.shape)));
const SCHEMA_KEYS = {
  ingest: keysOf(ingestSchema),
  worker: keysOf(workerSchema),
  'messenger-sandbox': keysOf(sandboxSchema),
  migrate: keysOf(commonSchema),
} as const;
type App = keyof typeof SCHEMA_KEYS;

const DEFAULTS = { ingest: loadIngestConfig({}), worker: loadWorkerConfig({}), sandbox: loadSandboxConfig({}) };
const DEFAULT_PORT: Record<Exclude<App, 'migrate'>, number> = {
  ingest: DEFAULTS.ingest.INGEST_PORT,
  worker: DEFAULTS.worker.WORKER_PORT,
  'messenger-sandbox': DEFAULTS.sandbox.SANDBOX_PORT,
};
const PORT_VAR: Record<Exclude<App, 'migrate'>, string> = { ingest: 'INGEST_PORT', worker: 'WORKER_PORT', 'messenger-sandbox': 'SANDBOX_PORT' };

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML; the assertions are the types. */
type Doc = Record<string, any>;

const k8sDir = 'deploy/k8s';
const k8sDocs: Array<{ file: string; doc: Doc }> = readdirSync(path.join(ROOT, k8sDir))
  .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
  .flatMap((file) =>
    parseAllDocuments(read(`${k8sDir}/${file}`)).map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
      return { file, doc: document.toJS() as Doc };
    }),
  )
  .filter(({ doc }) => doc !== null);
const ofKind = (kind: string) => k8sDocs.filter(({ doc }) => doc.kind === kind).map(({ doc }) => doc);
const named = (kind: string, name: string) => {
  const found = ofKind(kind).find((doc) => doc.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in ${k8sDir}`);
  return found;
};
const configMap = named('ConfigMap', 'renotify-config').data as Record<string, string>;
const deployments = ofKind('Deployment');
const appOfContainer = (name: string): App => {
  if (!(name in SCHEMA_KEYS)) throw new Error(`container "${name}" is not one of the apps ${Object.keys(SCHEMA_KEYS).join(', ')}`);
  return name as App;
};

const compose = parse(read('docker-compose.yml'), { merge: true }) as Doc;
const composeServices = compose.services as Record<string, Doc>;

/** `["CMD", "node", ".../healthcheck.mjs", "<PORT_ENV>", "<port>", "<path>"]` → its parts. */
function healthcheckArgs(test: unknown): { portVar: string; port: number; path: string } {
  const args = test as string[];
  const script = args.findIndex((arg) => arg.endsWith('healthcheck.mjs'));
  if (script === -1 || args.length < script + 4) throw new Error(`unexpected healthcheck: ${JSON.stringify(test)}`);
  return { portVar: args[script + 1]!, port: Number(args[script + 2]), path: args[script + 3]! };
}

const durationSeconds = (value: string) => {
  const match = /^(\d+)(ms|s|m)$/.exec(value);
  if (!match) throw new Error(`not a duration: ${value}`);
  return Number(match[1]) * (match[2] === 'ms' ? 0.001 : match[2] === 'm' ? 60 : 1);
};

describe('deployment manifests match the code', () => {
  let stack: Stack;
  const baseUrl = (app: App) => {
    if (app === 'ingest') return stack.ingest.url;
    if (app === 'worker') return stack.worker!.url;
    if (app === 'messenger-sandbox') return stack.sandboxUrl;
    throw new Error(`${app} serves no HTTP`);
  };
  /** A probe path is real when the running app answers it 200 (Redis and Postgres are up in the test). */
  const expectRoute = async (app: App, route: string, where: string) => {
    const response = await fetch(`${baseUrl(app)}${route}`);
    expect(response.status, `${where}: GET ${route} on ${app}`).toBe(200);
    return response;
  };

  beforeAll(async () => {
    stack = await startStack('manifests');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('uses only env var names the config schemas define (compose, ConfigMap, Secret, Deployments)', () => {
    for (const [service, definition] of Object.entries(composeServices)) {
      if (!definition.build) continue;
      const app = appOfContainer(service);
      for (const name of Object.keys(definition.environment ?? {})) {
        expect(SCHEMA_KEYS[app].has(name) || RUNTIME_ENV.has(name), `docker-compose.yml ${service}: ${name}`).toBe(true);
      }
    }
    const shared = keysOf(ingestSchema, workerSchema);
    for (const name of Object.keys(configMap)) expect(shared.has(name) || RUNTIME_ENV.has(name), `ConfigMap key ${name}`).toBe(true);
    const secret = parse(read(`${k8sDir}/secret.example.yaml`)) as Doc;
    for (const name of Object.keys(secret.stringData)) expect(shared.has(name), `Secret key ${name}`).toBe(true);
    for (const { doc, file } of k8sDocs) {
      const pod = doc.kind === 'Job' || doc.kind === 'Deployment' ? doc.spec.template.spec : null;
      for (const container of pod?.containers ?? []) {
        const app = appOfContainer(container.name);
        for (const { name } of container.env ?? []) expect(SCHEMA_KEYS[app].has(name) || RUNTIME_ENV.has(name), `${file} ${container.name}: ${name}`).toBe(true);
        for (const from of container.envFrom ?? []) {
          if (from.configMapRef) expect(from.configMapRef.name).toBe('renotify-config');
          if (from.secretRef) expect(from.secretRef.name).toBe(secret.metadata.name);
        }
      }
    }
  });

  it('listens, exposes and probes on the ports the schemas default to', async () => {
    expect(configMap.INGEST_PORT).toBe(String(DEFAULT_PORT.ingest));
    expect(configMap.WORKER_PORT).toBe(String(DEFAULT_PORT.worker));
    for (const deployment of deployments) {
      const container = deployment.spec.template.spec.containers[0];
      const app = appOfContainer(container.name) as Exclude<App, 'migrate'>;
      const http = container.ports.find((port: Doc) => port.name === 'http');
      expect(http.containerPort, `${deployment.metadata.name} containerPort`).toBe(DEFAULT_PORT[app]);
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        const port = container[probe].httpGet.port;
        expect(port === 'http' || port === DEFAULT_PORT[app], `${deployment.metadata.name} ${probe} port`).toBe(true);
      }
      const annotations = deployment.spec.template.metadata.annotations;
      expect(Number(annotations['prometheus.io/port'])).toBe(DEFAULT_PORT[app]);
      const service = named('Service', deployment.metadata.name);
      expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
      expect(service.spec.ports[0].port).toBe(DEFAULT_PORT[app]);
      expect(service.spec.ports[0].targetPort).toBe('http');
    }
    for (const [service, definition] of Object.entries(composeServices)) {
      if (!definition.build || service === 'migrate') continue;
      const app = appOfContainer(service) as Exclude<App, 'migrate'>;
      expect(definition.environment[PORT_VAR[app]], `compose ${service} ${PORT_VAR[app]}`).toBe(String(DEFAULT_PORT[app]));
      const published = [...(definition.ports ?? []), ...(definition.expose ?? [])].map((entry: string | number) => Number(String(entry).split(':').at(-1)));
      expect(published, `compose ${service} ports/expose`).toContain(DEFAULT_PORT[app]);
      const check = healthcheckArgs(definition.healthcheck.test);
      expect(check.portVar).toBe(PORT_VAR[app]);
      expect(check.port).toBe(DEFAULT_PORT[app]);
    }
    // One Dockerfile for every app: the APP build arg picks the stage `app-<APP>`, which holds the app's port and health check.
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^FROM app-\$\{APP\} AS runtime$/m);
    for (const [service, definition] of Object.entries(composeServices)) {
      if (definition.build && service !== 'migrate') expect(definition.build.args?.APP, `compose ${service} build arg APP`).toBe(appOfContainer(service));
    }
    for (const app of ['ingest', 'worker', 'messenger-sandbox'] as const) {
      const stageStart = dockerfile.indexOf(`AS app-${app}\n`);
      expect(stageStart, `Dockerfile stage app-${app}`).toBeGreaterThan(-1);
      const runtime = dockerfile.slice(stageStart, dockerfile.indexOf('\nFROM ', stageStart));
      expect(runtime, `Dockerfile app-${app} ENV`).toMatch(new RegExp(`\\b${PORT_VAR[app]}=${DEFAULT_PORT[app]}\\b`));
      expect(runtime).toMatch(new RegExp(`^EXPOSE ${DEFAULT_PORT[app]}$`, 'm'));
      const healthcheck = /HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])/.exec(runtime);
      const check = healthcheckArgs(JSON.parse(healthcheck![1]!));
      expect(check).toMatchObject({ portVar: PORT_VAR[app], port: DEFAULT_PORT[app] });
      await expectRoute(app, check.path, `Dockerfile app-${app} HEALTHCHECK`);
    }
  });

  it('probes, health checks and scrape annotations point at routes the apps really serve', async () => {
    for (const deployment of deployments) {
      const container = deployment.spec.template.spec.containers[0];
      const app = appOfContainer(container.name);
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        await expectRoute(app, container[probe].httpGet.path, `${deployment.metadata.name} ${probe}`);
      }
      const annotations = deployment.spec.template.metadata.annotations;
      const metrics = await expectRoute(app, annotations['prometheus.io/path'], `${deployment.metadata.name} prometheus.io/path`);
      expect(await metrics.text()).toMatch(/^# HELP renotify_/m);
    }
    for (const [service, definition] of Object.entries(composeServices)) {
      if (!definition.build || service === 'migrate') continue;
      await expectRoute(appOfContainer(service), healthcheckArgs(definition.healthcheck.test).path, `compose ${service} healthcheck`);
    }
    expect(SCHEMA_KEYS.migrate.has('DATABASE_URL')).toBe(true);
  });

  it('scales workers on the real backlog endpoint, service, port and metric names', async () => {
    const scaled = named('ScaledObject', 'renotify-worker');
    const workerDeployment = named('Deployment', scaled.spec.scaleTargetRef.name);
    const workerService = named('Service', 'renotify-worker');
    expect(workerDeployment.spec.template.spec.containers[0].name).toBe('worker');
    for (const trigger of scaled.spec.triggers) {
      if (trigger.type === 'metrics-api') {
        const url = new URL(trigger.metadata.url);
        expect(url.hostname.split('.')[0]).toBe(workerService.metadata.name);
        expect(Number(url.port)).toBe(DEFAULT_PORT.worker);
        expect(url.pathname).toBe(WorkerRoute.backlog);
        const body = (await (await expectRoute('worker', url.pathname, 'KEDA metrics-api url')).json()) as Record<string, unknown>;
        expect(typeof body[trigger.metadata.valueLocation], `valueLocation "${trigger.metadata.valueLocation}" in ${JSON.stringify(body)}`).toBe('number');
        expect(Object.keys(body.queues as object).sort()).toEqual([...ALL_QUEUES].sort());
      } else if (trigger.type === 'redis') {
        // A list trigger only counts `wait`; if one is ever added it must at least use our prefix and queue names.
        const [prefix, queue, list] = String(trigger.metadata.listName).split(':');
        expect(prefix).toBe(configMap.QUEUE_PREFIX);
        expect(ALL_QUEUES).toContain(queue);
        expect(list).toBe('wait');
      } else if (trigger.type === 'prometheus') {
        for (const name of String(trigger.metadata.query).match(/renotify_[a-z_]+/g) ?? []) expect(Object.values(MetricName)).toContain(name);
      } else {
        throw new Error(`unchecked KEDA trigger type ${trigger.type}`);
      }
    }
    // The commented-out Prometheus alternative is documentation people copy: check it too.
    const text = read(`${k8sDir}/worker-scaledobject.yaml`);
    const queries = [...text.matchAll(/query:\s*(.+)$/gm)].map((match) => match[1]!);
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries) {
      const metrics = query.match(/renotify_[a-z_]+/g) ?? [];
      expect(metrics.length).toBeGreaterThan(0);
      for (const name of metrics) expect(Object.values(MetricName), `metric in "${query}"`).toContain(name);
      const queues = /queue=~"([^"]+)"/.exec(query)?.[1]?.split('|');
      if (queues) expect(queues.sort()).toEqual([...ALL_QUEUES].sort());
    }
    const scrape = await (await expectRoute('worker', '/metrics', 'worker scrape')).text();
    expect(scrape).toContain(`# TYPE ${MetricName.queueBacklog} gauge`);
  });

  it('uses the same queue prefix everywhere and keeps Redis safe for BullMQ', () => {
    expect(configMap.QUEUE_PREFIX).toBe(DEFAULTS.worker.QUEUE_PREFIX);
    for (const service of ['ingest', 'worker']) expect(composeServices[service]!.environment.QUEUE_PREFIX).toBe(DEFAULTS.worker.QUEUE_PREFIX);
    const redis = (composeServices.redis!.command as string[]).join(' ');
    expect(redis).toMatch(/--appendonly yes/);
    expect(redis).toMatch(/--maxmemory-policy noeviction/);
  });

  it('gives every app longer to stop than its own drain budget, and a stale window the heartbeat can meet', () => {
    const shutdownSeconds = Number(configMap.SHUTDOWN_TIMEOUT_MS) / 1000;
    for (const deployment of deployments) {
      const pod = deployment.spec.template.spec;
      const preStop = pod.containers[0].lifecycle?.preStop?.exec?.command;
      const preStopSeconds = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
      expect(pod.terminationGracePeriodSeconds, deployment.metadata.name).toBeGreaterThan(shutdownSeconds + preStopSeconds);
    }
    for (const service of ['ingest', 'worker']) {
      const definition = composeServices[service]!;
      expect(durationSeconds(definition.stop_grace_period), `compose ${service}`).toBeGreaterThan(Number(definition.environment.SHUTDOWN_TIMEOUT_MS) / 1000);
    }
    // The heartbeat's PING waits behind BullMQ's blocking command (≤ 10 s) and runs every stale/4.
    const stale = Number(configMap.LIVENESS_STALE_MS ?? DEFAULTS.worker.LIVENESS_STALE_MS);
    expect(stale - stale / 4).toBeGreaterThan(10_000);
  });

  it('lists files and images that exist in kustomization.yaml', () => {
    const kustomization = parse(read(`${k8sDir}/kustomization.yaml`)) as Doc;
    for (const resource of kustomization.resources) expect(existsSync(path.join(ROOT, k8sDir, resource)), resource).toBe(true);
    const images = new Set(deployments.map((deployment) => String(deployment.spec.template.spec.containers[0].image).split(':')[0]));
    for (const image of kustomization.images) expect(images.has(image.name), image.name).toBe(true);
  });
});
