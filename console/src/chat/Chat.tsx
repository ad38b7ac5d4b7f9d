/** The chat: the user's channels, live. (Not built yet.) */
export function Chat() {
  return <h1>Chat</h1>;
}
