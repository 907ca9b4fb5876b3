import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Splits a CPU profile the security bench wrote (BENCH_CPU_PROFILE) by the
 * mode whose batch was running at each sample, and prints each mode's time
 * a call and the frames (self time, µs a call) where mode B spends more than
 * mode A. Profiling each mode in a process of its own compares different
 * minutes of a shared machine (a whole mode 30% slower in code both run
 * alike); the batches in turns within one profile do not.
 *
 *   node dist/bench/profile-by-mode.js <profile> [A=development] [B=network] [top=25]
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}
interface Window {
  mode: string;
  startUs: number;
  endUs: number;
  n: number;
}

const [file, a = 'development', b = 'network', top = '25'] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-by-mode <profile> [modeA] [modeB] [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const windows = JSON.parse(readFileSync(`${file}.windows.json`, 'utf8')) as Window[];

const frame = new Map(profile.nodes.map((n) => [n.id, `${n.callFrame.functionName || '(anonymous)'} ${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber}`]));
const self = new Map<string, Map<string, number>>();
const calls = new Map<string, number>();
for (const w of windows) calls.set(w.mode, (calls.get(w.mode) ?? 0) + w.n);

// A sample stands for the time until the next one; it belongs to the batch running when it was taken.
let t = profile.startTime;
let w = 0;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i];
  while (w < windows.length && windows[w].endUs < t) w++;
  if (w === windows.length) break;
  if (t < windows[w].startUs) continue;
  const m = self.get(windows[w].mode) ?? new Map<string, number>();
  self.set(windows[w].mode, m);
  const f = frame.get(profile.samples[i])!;
  m.set(f, (m.get(f) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
}

const perCall = (mode: string, f: string) => (self.get(mode)?.get(f) ?? 0) / (calls.get(mode) ?? 1);
for (const [mode, m] of self) {
  const total = [...m.values()].reduce((x, y) => x + y, 0) / calls.get(mode)!;
  const [idle, gc, program] = ['(idle) :-1', '(garbage collector) :-1', '(program) :-1'].map((f) => perCall(mode, f).toFixed(0));
  console.log(`${mode.padEnd(16)} ${calls.get(mode)} calls, ${total.toFixed(0)} µs a call sampled: idle ${idle}, GC ${gc}, native (program) ${program}`);
}
const frames = new Set([...(self.get(a)?.keys() ?? []), ...(self.get(b)?.keys() ?? [])]);
const diff = [...frames].map((f) => ({ f, d: perCall(b, f) - perCall(a, f) })).sort((x, y) => y.d - x.d);
console.log(`\nself time, µs a call: ${b} − ${a}`);
for (const { f, d } of diff.slice(0, Number(top))) console.log(`${d.toFixed(1).padStart(7)}  ${perCall(a, f).toFixed(1).padStart(7)} → ${perCall(b, f).toFixed(1).padStart(7)}  ${f}`);
