import { crc32 } from 'node:zlib';
import { TaskError } from '../../common/errors.js';
import { writeAll, writeFileAtomically } from './atomic-writer.js';

/**
 * ZIP archives of already-compressed entries (Zarr chunks), stored without recompression so a
 * reader fetches any entry with one range request at an offset the central directory gives.
 * ZIP64 records are added when offsets or the entry count outgrow the classic fields, as every
 * current unzip tool, unzipit (zarrita's zip store) and GDAL's /vsizip/ read them.
 */

export interface ZipEntry {
  /** Path inside the archive, `/`-separated, no leading slash. */
  name: string;
  data: Uint8Array;
}

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const END_SIGNATURE = 0x06054b50;
const ZIP64_END_SIGNATURE = 0x06064b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EXTRA_ID = 0x0001;
/** General purpose flag bit 11: names are UTF-8. */
const UTF8_NAMES = 0x0800;
const METHOD_STORED = 0;
/** Version 2.0: stored entries; 4.5: ZIP64. */
const VERSION_CLASSIC = 20;
const VERSION_ZIP64 = 45;
/** "Made by" host 3 (Unix), so unzip tools apply no DOS attribute conversions. */
const MADE_BY_UNIX = 3 << 8;
const MAX_UINT16 = 0xffff;
const MAX_UINT32 = 0xffffffff;

/** DOS date and time fields of `date` (local time, two-second resolution, from 1980). */
function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.max(1980, date.getFullYear());
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

/** Writes the archive to `path` atomically; returns its size. */
export async function writeZip(path: string, entries: ZipEntry[], modified = new Date()): Promise<{ bytes: number }> {
  const { time, date } = dosDateTime(modified);
  const encoder = new TextEncoder();
  const names = new Set<string>();
  for (const entry of entries) {
    if (names.has(entry.name)) throw new TaskError('internal', `zip entry "${entry.name}" is given twice`);
    names.add(entry.name);
    // Entries are chunks and metadata; a single one of 4 GiB means something else went wrong.
    if (entry.data.byteLength >= MAX_UINT32) throw new TaskError('internal', `zip entry "${entry.name}" is too large (${entry.data.byteLength} bytes)`);
  }
  return writeFileAtomically(path, 'zip archive', async (handle) => {
    const central: Uint8Array[] = [];
    let offset = 0;
    let batch: Uint8Array[] = [];
    for (const entry of entries) {
      const name = encoder.encode(entry.name);
      const checksum = crc32(entry.data);
      const local = new DataView(new ArrayBuffer(30));
      local.setUint32(0, LOCAL_HEADER_SIGNATURE, true);
      local.setUint16(4, VERSION_CLASSIC, true);
      local.setUint16(6, UTF8_NAMES, true);
      local.setUint16(8, METHOD_STORED, true);
      local.setUint16(10, time, true);
      local.setUint16(12, date, true);
      local.setUint32(14, checksum, true);
      local.setUint32(18, entry.data.byteLength, true);
      local.setUint32(22, entry.data.byteLength, true);
      local.setUint16(26, name.byteLength, true);
      local.setUint16(28, 0, true);
      batch.push(new Uint8Array(local.buffer), name, entry.data);

      const zip64 = offset >= MAX_UINT32;
      const header = new DataView(new ArrayBuffer(46 + (zip64 ? 12 : 0)));
      header.setUint32(0, CENTRAL_HEADER_SIGNATURE, true);
      header.setUint16(4, MADE_BY_UNIX | VERSION_ZIP64, true);
      header.setUint16(6, zip64 ? VERSION_ZIP64 : VERSION_CLASSIC, true);
      header.setUint16(8, UTF8_NAMES, true);
      header.setUint16(10, METHOD_STORED, true);
      header.setUint16(12, time, true);
      header.setUint16(14, date, true);
      header.setUint32(16, checksum, true);
      header.setUint32(20, entry.data.byteLength, true);
      header.setUint32(24, entry.data.byteLength, true);
      header.setUint16(28, name.byteLength, true);
      header.setUint16(30, zip64 ? 12 : 0, true);
      // Comment length, disk number, internal attributes: 0. External attributes: regular file, rw-r--r--.
      header.setUint32(38, (0o100644 << 16) >>> 0, true);
      header.setUint32(42, zip64 ? MAX_UINT32 : offset, true);
      if (zip64) {
        header.setUint16(46, ZIP64_EXTRA_ID, true);
        header.setUint16(48, 8, true);
        header.setBigUint64(50, BigInt(offset), true);
      }
      const headerBytes = new Uint8Array(header.buffer);
      central.push(headerBytes.subarray(0, 46), name, headerBytes.subarray(46));

      offset += 30 + name.byteLength + entry.data.byteLength;
      if (batch.length >= 768) {
        await writeAll(handle, batch);
        batch = [];
      }
    }
    await writeAll(handle, batch);

    const centralOffset = offset;
    const centralSize = central.reduce((sum, part) => sum + part.byteLength, 0);
    await writeAll(handle, central);
    const needsZip64 = entries.length >= MAX_UINT16 || centralOffset >= MAX_UINT32 || centralSize >= MAX_UINT32;
    const tail: Uint8Array[] = [];
    if (needsZip64) {
      const record = new DataView(new ArrayBuffer(56));
      record.setUint32(0, ZIP64_END_SIGNATURE, true);
      record.setBigUint64(4, 44n, true);
      record.setUint16(12, MADE_BY_UNIX | VERSION_ZIP64, true);
      record.setUint16(14, VERSION_ZIP64, true);
      record.setBigUint64(24, BigInt(entries.length), true);
      record.setBigUint64(32, BigInt(entries.length), true);
      record.setBigUint64(40, BigInt(centralSize), true);
      record.setBigUint64(48, BigInt(centralOffset), true);
      const locator = new DataView(new ArrayBuffer(20));
      locator.setUint32(0, ZIP64_LOCATOR_SIGNATURE, true);
      locator.setBigUint64(8, BigInt(centralOffset + centralSize), true);
      locator.setUint32(16, 1, true);
      tail.push(new Uint8Array(record.buffer), new Uint8Array(locator.buffer));
    }
    const end = new DataView(new ArrayBuffer(22));
    end.setUint32(0, END_SIGNATURE, true);
    end.setUint16(8, Math.min(entries.length, MAX_UINT16), true);
    end.setUint16(10, Math.min(entries.length, MAX_UINT16), true);
    end.setUint32(12, Math.min(centralSize, MAX_UINT32), true);
    end.setUint32(16, Math.min(centralOffset, MAX_UINT32), true);
    tail.push(new Uint8Array(end.buffer));
    await writeAll(handle, tail);
  });
}
