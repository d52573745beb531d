export { runWorker, type RunningWorker } from './main.js';
