import { existsSync } from 'node:fs';

/** Testcontainers is only worth trying when a Docker engine could answer. */
export function dockerLikelyAvailable(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}
