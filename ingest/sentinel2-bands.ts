import { bandNameOf, eoBandOf, type StacAsset } from './stac-items.js';

/**
 * One name per Sentinel-2 band, whoever publishes the item: the MSI band ids B01…B12 and B8A
 * (and the L2A auxiliary layers SCL, AOT, WVP by their asset keys). Providers label the same band
 * differently: the Copernicus Data Space names it "B04" in eo:bands, Earth Search v1 names it
 * "red" with the description "Red (band 4)". The band is found from its metadata — the eo:bands
 * name, the "(band N)" of its description or title, or its centre wavelength — never from the
 * asset's key or position.
 */

/** Centre wavelengths of the MSI bands in µm (Sentinel-2A; 2B differs by at most 0.009 µm). */
export const SENTINEL2_CENTER_WAVELENGTHS: Readonly<Record<string, number>> = {
  B01: 0.443,
  B02: 0.49,
  B03: 0.56,
  B04: 0.665,
  B05: 0.705,
  B06: 0.74,
  B07: 0.783,
  B08: 0.842,
  B8A: 0.865,
  B09: 0.945,
  B10: 1.375,
  B11: 1.61,
  B12: 2.19,
};

/**
 * Largest distance to a band's centre wavelength still taken as that band: 0.012 µm. Covers the
 * 2A/2B differences and rounding, and is below half the gap between the closest bands (B08/B8A).
 */
export const WAVELENGTH_TOLERANCE_UM = 0.012;

/** "B4", "b04", "B8a" → "B04", "B04", "B8A"; null when the text is no MSI band id. */
export function normaliseBandId(text: string): string | null {
  const match = /^B0?(\d{1,2})(A?)$/i.exec(text.trim());
  if (!match) return null;
  const id = `B${match[1]!.padStart(2, '0')}${match[2]!.toUpperCase()}`;
  return id in SENTINEL2_CENTER_WAVELENGTHS ? id : null;
}

/** The MSI band nearest a centre wavelength, within WAVELENGTH_TOLERANCE_UM. */
export function bandByWavelength(micrometres: number): string | null {
  let best: string | null = null;
  let distance = WAVELENGTH_TOLERANCE_UM;
  for (const [id, centre] of Object.entries(SENTINEL2_CENTER_WAVELENGTHS)) {
    const d = Math.abs(centre - micrometres);
    if (d <= distance) {
      best = id;
      distance = d;
    }
  }
  return best;
}

/** The Sentinel-2 band name of an asset (a `bandName` for cogItemFromStac). */
export function sentinel2BandName(key: string, asset: StacAsset): string {
  const eo = eoBandOf(asset);
  const byName = eo?.name ? normaliseBandId(eo.name) : null;
  if (byName) return byName;
  for (const text of [eo?.description, asset.title]) {
    const match = text ? /\(band\s+(\d{1,2}A?)\)/i.exec(text) : null;
    const id = match ? normaliseBandId(`B${match[1]}`) : null;
    if (id) return id;
  }
  const byWavelength = eo?.center_wavelength !== undefined ? bandByWavelength(eo.center_wavelength) : null;
  if (byWavelength) return byWavelength;
  return bandNameOf(key, asset);
}
