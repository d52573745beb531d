export { runApi } from './main.js';
