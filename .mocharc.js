// Mocha adds a config's `spec` to the files named on the command line, so
// `npx mocha dist/test/x.test.js` would run the whole suite as well: the
// default spec applies only when no test file is named.
// A flag's value (`--reporter ./r.js`, `--require x.js`) is not a test file.
const valueFlags = new Set(['--require', '-r', '--file', '--ignore', '--config', '--spec', '--reporter', '-R', '--reporter-option', '-O']);
const named = process.argv.slice(2).filter((a, i, all) => /\.js$/.test(a) && !a.startsWith('-') && !valueFlags.has(all[i - 1]));

module.exports = {
  timeout: 20000,
  // A handle a test leaves open must not hang CI: mocha exits after the run, and the root hook
  // (test/support/report-handles.ts) prints what was still open, so a leak is seen and fixed.
  exit: true,
  require: ['dist/test/support/report-handles.js'],
  reporter: 'spec',
  ...(named.length ? {} : { spec: ['dist/src/**/*.test.js', 'dist/test/**/*.test.js'] }),
};
