import { describe, expect, it } from 'vitest';
import { parseStrptime, translateLegacyGraph, withoutCredentials } from '../../api/compiler/legacy-graphs.js';

describe('translation of the predecessor\'s process graphs', () => {
  it('parses strptime formats as UTC', () => {
    expect(parseStrptime('02-06-2020 00:00:00', '%d-%m-%Y %H:%M:%S')).toBe('2020-06-02T00:00:00Z');
    expect(parseStrptime('2012-01-31', '%Y-%m-%d')).toBe('2012-01-31T00:00:00Z');
    expect(() => parseStrptime('2012/01/31', '%Y-%m-%d')).toThrow(/does not match/);
  });

  it('maps 0–360° boxes of mean_sst, including boxes across 0°, and drops credentials', () => {
    const graph = translateLegacyGraph({
      load: { process_id: 'load_collection', arguments: { DataType: 'SST', timeframe: ['01-01-2012 00:00:00', '01-01-2013 00:00:00', '%d-%m-%Y %H:%M:%S'], Login: ['u', 'p'] } },
      mean: { process_id: 'mean_sst', arguments: { data: { from_node: 'load' }, bbox: [350, -10, 10, 10] } },
      save: { process_id: 'save_result', arguments: { SaveData: { from_node: 'mean' }, Format: 'netcdf' } },
    });
    expect(graph.load!.arguments).toEqual({ id: 'OISST', spatial_extent: null, temporal_extent: ['2012-01-01T00:00:00Z', '2013-01-01T00:00:00Z'], bands: ['sst'] });
    expect(graph.mean__bbox!.arguments.extent).toEqual({ west: -10, south: -10, east: 10, north: 10, crs: 4326 });
    expect(graph.mean!.process_id).toBe('reduce_dimension');
    expect(graph.save).toEqual({ process_id: 'save_result', arguments: { data: { from_node: 'mean' }, format: 'netcdf' }, result: true });
    expect(JSON.stringify(graph)).not.toContain('"p"');
    expect(JSON.stringify(withoutCredentials({ l: { process_id: 'load_collection', arguments: { Login: ['a', 'b'], DataType: 'SST' } } }))).not.toContain('Login');
  });

  it('leaves standard graphs alone', () => {
    const graph = { a: { process_id: 'add', arguments: { x: 1, y: 2 }, result: true } };
    expect(translateLegacyGraph(graph)).toBe(graph);
  });
});
