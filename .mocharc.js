// Mocha adds a config's `spec` to the files named on the command line, so
// `npx mocha dist/test/x.test.js` would run the whole suite as well: the
// default spec applies only when no test file is named.
// A flag's value (`--reporter ./r.js`, `--require x.js`) is not a test file.
const valueFlags = new Set(['--require', '-r', '--file', '--ignore', '--config', '--spec', '--reporter', '-R', '--reporter-option', '-O']);
const named = process.argv.slice(2).filter((a, i, all) => /\.js$/.test(a) && !a.startsWith('-') && !valueFlags.has(all[i - 1]));

module.exports = {
  timeout: 20000,
  // No `exit`: a test that leaves a handle open keeps mocha running, and is fixed rather than hidden.
  reporter: 'spec',
  ...(named.length ? {} : { spec: ['dist/src/**/*.test.js', 'dist/test/**/*.test.js'] }),
};
