/** Tests set their own database through `Flux.start({config})`; this keeps a stray run off the dev file. */
export default { storage: 'data/test.sqlite' };
