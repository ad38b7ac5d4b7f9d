/** Toy roles: `viewer` reads every card, `editor` writes every card, `guest` only its own. */
export default {
  viewer: ['card/read'],
  editor: ['card/admin'],
  guest: [],
};
