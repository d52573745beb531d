/**
 * The definition helpers under the name cubes.ts and save.ts import them by; new modules
 * import from definition.ts.
 */
export { definition, param } from './definition.js';
