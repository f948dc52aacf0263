import { defineRenotifyProject } from '../../vitest.base.js';

export default defineRenotifyProject(import.meta.url);
