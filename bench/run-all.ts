import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * `npm run bench`: every benchmark in bench/, one after the other, each in a
 * process of its own (they start servers and exit when done), printing its
 * own figures. `npm run bench -- network audit` runs only those.
 */
const dir = __dirname;
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.js') && f !== path.basename(__filename))
  .map((f) => f.replace(/\.js$/, ''))
  .sort();
const asked = process.argv.slice(2);
const unknown = asked.filter((b) => !all.includes(b));
if (unknown.length) {
  console.error(`no benchmark named ${unknown.join(', ')}; there are: ${all.join(', ')}`);
  process.exit(2);
}

const run = (name: string): Promise<number> =>
  new Promise((resolve) => {
    console.log(`\n== bench/${name}`);
    const p = spawn(process.execPath, [path.join(dir, `${name}.js`)], { stdio: 'inherit' });
    p.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });

const main = async () => {
  const failed: string[] = [];
  for (const name of asked.length ? asked : all) if ((await run(name)) !== 0) failed.push(name);
  if (failed.length) {
    console.error(`\nfailed: ${failed.join(', ')}`);
    process.exit(1);
  }
};

void main();
