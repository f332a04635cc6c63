// Bundled in place of `string-width` (see the build's --alias): yargs, cliui and wrap-ansi measure text only to lay
// out --help, but the package builds an emoji regex and an Intl.Segmenter as it loads, which was a tenth of a cron
// run's time. The real one (any of its copies measures as well) is bundled too, and run the first time a width is
// asked for: esbuild makes a module that is required, not imported, a function called on first use.
let stringWidth;

export default function lazyStringWidth(text, options) {
  stringWidth ??= require('../node_modules/string-width/index.js').default;
  return stringWidth(text, options);
}
