import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { exposedDataFolder, warnIfDataFolderExposed } from '../../src/core/dataPrivacy.js';
import { createLogger } from '../../src/core/log.js';
import { dataHome, dataHomeFor, type Host } from '../../src/core/paths.js';

// CI runs Linux only: each platform's choice is checked with the platform injected.
const linux: Host = { platform: 'linux', env: {}, home: '/home/ada' };
const mac: Host = { platform: 'darwin', env: {}, home: '/Users/ada' };
const win: Host = { platform: 'win32', env: { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }, home: 'C:\\Users\\ada' };

test('the data folder follows each platform: XDG on Linux, Application Support on macOS, %LOCALAPPDATA% on Windows', () => {
  assert.equal(dataHomeFor(linux), '/home/ada/.local/share/sleap-rtc');
  assert.equal(dataHomeFor({ ...linux, env: { XDG_DATA_HOME: '/data/xdg' } }), '/data/xdg/sleap-rtc');
  // The XDG spec: a relative $XDG_DATA_HOME is invalid and ignored.
  assert.equal(dataHomeFor({ ...linux, env: { XDG_DATA_HOME: 'rel/xdg' } }), '/home/ada/.local/share/sleap-rtc');
  assert.equal(dataHomeFor({ ...linux, platform: 'freebsd' }), '/home/ada/.local/share/sleap-rtc');
  assert.equal(dataHomeFor(mac), '/Users/ada/Library/Application Support/sleap-rtc');
  // macOS has its own convention: XDG_DATA_HOME (set for other tools) does not move it.
  assert.equal(dataHomeFor({ ...mac, env: { XDG_DATA_HOME: '/Users/ada/.xdg' } }), '/Users/ada/Library/Application Support/sleap-rtc');
  assert.equal(dataHomeFor(win), 'C:\\Users\\ada\\AppData\\Local\\sleap-rtc');
  assert.equal(dataHomeFor({ ...win, env: {} }), 'C:\\Users\\ada\\AppData\\Local\\sleap-rtc');
  assert.equal(dataHomeFor({ ...win, env: { LOCALAPPDATA: 'relative' } }), 'C:\\Users\\ada\\AppData\\Local\\sleap-rtc');
  assert.equal(dataHomeFor({ ...win, env: { XDG_DATA_HOME: 'C:\\xdg' } }), 'C:\\Users\\ada\\AppData\\Local\\sleap-rtc');
});

test('--data (or sleapRtc.dataFolder), then SLEAP_RTC_DATA, win over the platform default on every platform', () => {
  assert.equal(dataHomeFor({ ...linux, env: { SLEAP_RTC_DATA: '/srv/rtc', XDG_DATA_HOME: '/data/xdg' } }), '/srv/rtc');
  assert.equal(dataHomeFor({ ...mac, env: { SLEAP_RTC_DATA: '/Volumes/lab/rtc' } }), '/Volumes/lab/rtc');
  assert.equal(dataHomeFor({ ...win, env: { ...win.env, SLEAP_RTC_DATA: 'D:\\lab\\rtc' } }), 'D:\\lab\\rtc');
  assert.equal(dataHomeFor({ ...win, env: { SLEAP_RTC_DATA: 'D:\\lab\\rtc' }, explicit: 'E:\\mine' }), 'E:\\mine');
  assert.equal(dataHomeFor({ ...linux, env: { SLEAP_RTC_DATA: '/srv/rtc' }, explicit: '/tmp/x' }), '/tmp/x');
  // The wrapper is this machine's (Linux in CI).
  assert.equal(dataHome(undefined, { XDG_DATA_HOME: '/data/xdg' }), '/data/xdg/sleap-rtc');
  assert.equal(dataHome(undefined, {}), join(homedir(), '.local', 'share', 'sleap-rtc'));
});

test('on Windows a data folder outside the profile is warned about, with the icacls command; inside it or on Linux and macOS nothing is said', () => {
  assert.equal(exposedDataFolder(dataHomeFor(win), win), undefined);
  assert.equal(exposedDataFolder('c:\\users\\ADA\\Documents\\rtc', win), undefined, 'Windows paths compare without case');
  assert.equal(exposedDataFolder('/srv/rtc', linux), undefined);
  assert.equal(exposedDataFolder('/Volumes/lab/rtc', mac), undefined);
  for (const dir of ['D:\\lab\\rtc', 'C:\\lab\\rtc', 'C:\\Users\\adam\\rtc', '\\\\nas\\share\\rtc']) {
    const msg = exposedDataFolder(dir, win);
    assert.ok(msg, `${dir} is outside C:\\Users\\ada`);
    assert.match(msg, /outside your profile \(C:\\Users\\ada\)/);
    assert.ok(msg.includes(`icacls "${dir}" /inheritance:r`), msg);
  }
});

test('the warning is logged once per data folder', () => {
  const lines: string[] = [];
  const log = createLogger('agent', {}, (l) => lines.push(l));
  const dir = 'D:\\lab\\once';
  warnIfDataFolderExposed(dir, log, win);
  warnIfDataFolderExposed(dir, log, win);
  warnIfDataFolderExposed(dataHomeFor(win), log, win);
  warnIfDataFolderExposed('/srv/rtc', log, linux);
  assert.equal(lines.length, 1, lines.join('\n'));
  const line = JSON.parse(lines[0]) as { level: string; msg: string; data: string };
  assert.equal(line.level, 'warn');
  assert.equal(line.data, dir);
  assert.match(line.msg, /token and connection files/);
  warnIfDataFolderExposed('E:\\other', log, win);
  assert.equal(lines.length, 2);
});
