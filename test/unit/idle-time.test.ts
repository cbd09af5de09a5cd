/** The user's idle time on each platform (agents/launcher/src/idle-time.ts): the same contract from three outputs. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  idleSourceFor,
  parseIoregIdle,
  parseWindowsIdle,
  parseXprintidle,
} from '../../agents/launcher/src/idle-time.ts';

describe('idle time parsing', () => {
  it('reads xprintidle', () => {
    expect(parseXprintidle('12345\n')).toBe(12345);
    expect(parseXprintidle('0')).toBe(0);
    expect(parseXprintidle("couldn't open display\n")).toBeNull();
    expect(parseXprintidle('')).toBeNull();
  });

  it("reads macOS ioreg's HIDIdleTime, in nanoseconds, as a number or as little-endian data", () => {
    const listing = `+-o IOHIDSystem  <class IOHIDSystem, id 0x100000481, registered, matched, active, busy 0 (0 ms), retain 32>
    | {
    |   "HIDIdleTime" = 4523150125
    |   "HIDParameters" = {"HIDClickTime"=500000000}
    | }`;
    expect(parseIoregIdle(listing)).toBe(4523);
    // 0x000000010DB2A12D ns little-endian = 4,524,777,773 ns.
    expect(parseIoregIdle('    |   "HIDIdleTime" = <2da1b20d01000000>')).toBe(4524);
    expect(parseIoregIdle('+-o IOHIDSystem\n | {\n | }')).toBeNull();
  });

  it("reads the PowerShell loop's lines (GetLastInputInfo against the tick count)", () => {
    expect(parseWindowsIdle('1500\r')).toBe(1500);
    expect(parseWindowsIdle('  0 ')).toBe(0);
    expect(parseWindowsIdle('Add-Type : Cannot add type.')).toBeNull();
    expect(parseWindowsIdle('-12')).toBeNull();
  });
});

describe('idle source per platform', () => {
  const bin = mkdtempSync(join(tmpdir(), 'witness-idle-bin-'));
  for (const name of ['xprintidle', 'ioreg', 'powershell']) {
    writeFileSync(join(bin, name), '#!/bin/sh\n');
    chmodSync(join(bin, name), 0o755);
  }
  const withTools = { PATH: bin };
  const without = { PATH: mkdtempSync(join(tmpdir(), 'witness-idle-empty-')) };
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  it('X11 with xprintidle and a display; nothing without either', () => {
    expect(idleSourceFor('x11', ':1', 'linux', withTools)).toEqual({ kind: 'xprintidle', display: ':1' });
    expect(idleSourceFor('x11', undefined, 'linux', withTools)).toBeNull();
    expect(idleSourceFor('x11', ':1', 'linux', without)).toBeNull();
  });

  it('Windows through PowerShell, macOS through ioreg, none for a test pattern', () => {
    expect(idleSourceFor('gdigrab', undefined, 'win32', withTools)).toMatchObject({ kind: 'powershell' });
    expect(idleSourceFor('ddagrab', undefined, 'win32', withTools)).toMatchObject({ kind: 'powershell' });
    expect(idleSourceFor('avfoundation', undefined, 'darwin', withTools)).toEqual({ kind: 'ioreg' });
    expect(idleSourceFor('avfoundation', undefined, 'darwin', without)).toBeNull();
    expect(idleSourceFor('testsrc', undefined, 'linux', withTools)).toBeNull();
  });
});
