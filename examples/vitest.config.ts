import { mergeConfig } from 'vitest/config';
import { defineRenotifyProject } from '../vitest.base.js';

// The examples sit at the package root (they are what a reader opens first), so their tests do too.
export default mergeConfig(defineRenotifyProject(import.meta.url), { test: { include: ['*.test.mjs'] } });
