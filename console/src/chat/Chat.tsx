import type { Item } from '@flux/client';
import { Fragment } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { describeError } from '../errors';
import { useLive } from '../live';
import { to } from '../paths';
import { session } from '../state';
import './chat.css';
import { ErrorMessage } from '../fields';

/** A channel as `GET /message/channels` lists it (api/controllers/MessageController.ts). */
interface Channel {
  channel: string;
  category: 'public' | 'group' | 'private';
  label: string;
  read: boolean;
  write: boolean;
}

type Message = Item<'message'>;

const categoryLabels: Record<Channel['category'], string> = {
  public: 'Team channels',
  group: 'Groups',
  private: 'Private with the desk',
};

/** How many of a channel's newest messages are shown. */
const WINDOW = 200;

/**
 * The chat: the channels the user's team may read (`GET /message/channels`, read again when the teams or
 * the user's permissions change), the chosen channel's newest messages as a live query, and the box to
 * send one where the team may write. The channel is in the address (`?channel=public:3`).
 */
export function Chat() {
  const channels = useChannels();
  const { query, route } = useLocation();
  const chosen =
    channels.list?.find((item) => item.channel === query.channel) ??
    channels.list?.find((item) => item.write) ??
    channels.list?.[0];
  const pick = (channel: string) => route(`${to('chat')}?channel=${encodeURIComponent(channel)}`, true);
  const section = useFitToScreen();

  return (
    <section class="chat" ref={section} aria-labelledby="chat-title">
      <h1 id="chat-title" class="visually-hidden">
        Chat
      </h1>
      <nav class="channels" aria-label="Channels">
        <ErrorMessage text={channels.error} />
        {channels.list?.length === 0 && <p class="empty">No channel is open to your team.</p>}
        {(['public', 'group', 'private'] as const).map((category) => {
          const inCategory = channels.list?.filter((item) => item.category === category) ?? [];
          if (inCategory.length === 0) return null;
          return (
            <div key={category} class="channel-group">
              <h2>{categoryLabels[category]}</h2>
              <ul>
                {inCategory.map((item) => (
                  <li key={item.channel}>
                    <a
                      href={`${to('chat')}?channel=${encodeURIComponent(item.channel)}`}
                      aria-current={item.channel === chosen?.channel ? 'page' : undefined}
                      data-channel={item.channel}
                      onClick={(event) => {
                        event.preventDefault();
                        pick(item.channel);
                      }}
                    >
                      <Sigil category={category} />
                      {item.label}
                      {!item.write && <span class="visually-hidden"> (read only)</span>}
                    </a>
                  </li>
                ))}
              </ul>
            </div>
          );
        })}
      </nav>
      {chosen ? <Conversation key={chosen.channel} channel={chosen} /> : <div class="conversation" />}
    </section>
  );
}

/** `#` before a channel's name, a padlock before a private one (drawn: emoji fonts are not everywhere). */
function Sigil({ category }: { category: Channel['category'] }) {
  return (
    <span class="sigil" aria-hidden="true">
      {category === 'private' ? (
        <svg viewBox="0 0 16 16" width="13" height="13" fill="currentColor">
          <title>Private</title>
          <path d="M8 1a3.5 3.5 0 0 0-3.5 3.5V7H4a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h8a1 1 0 0 0 1-1V8a1 1 0 0 0-1-1h-.5V4.5A3.5 3.5 0 0 0 8 1Zm2 6H6V4.5a2 2 0 1 1 4 0V7Z" />
        </svg>
      ) : (
        '#'
      )}
    </span>
  );
}

/**
 * Keeps the chat's height to what the screen has left below the header (which wraps to two lines on a
 * phone), so that the messages scroll inside and the box to write stays in view.
 */
function useFitToScreen() {
  const ref = useRef<HTMLElement>(null);
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    const fit = () => {
      const top = element.getBoundingClientRect().top + window.scrollY;
      const below = Number.parseFloat(getComputedStyle(element.parentElement!).paddingBottom) || 0;
      element.style.setProperty('--chat-top', `${Math.round(top + below)}px`);
    };
    // the page's height moves with the header's (a wrapping header, a notice): fit again then
    const observer = new ResizeObserver(fit);
    observer.observe(document.body);
    window.addEventListener('resize', fit);
    return () => {
      observer.disconnect();
      window.removeEventListener('resize', fit);
    };
  }, []);
  return ref;
}

/** The channels of the user, read again when a team is added, renamed or regrouped, or the role changes. */
function useChannels(): { list: Channel[] | null; error: string | null } {
  const client = session.client.value;
  const teams = useLive('team', { sort: ['id'], limit: 1000 });
  const [list, setList] = useState<Channel[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // what the channels are made of: the teams' names and groups, and the user's permissions
  const key = JSON.stringify([
    teams.items.map((team) => [team.id, team.name, team.group]),
    session.me.value?.permissions,
    session.me.value?.team?.id,
  ]);
  useEffect(() => {
    let gone = false;
    client.request<Channel[]>('GET', '/message/channels').then(
      ({ data }) => {
        if (gone) return;
        setList(data);
        setError(null);
      },
      (caught: unknown) => !gone && setError(describeError(caught)),
    );
    return () => {
      gone = true;
    };
  }, [client, key]);
  return { list, error };
}

/** One channel: its messages, newest at the bottom, and the box to write one. */
function Conversation({ channel }: { channel: Channel }) {
  const messages = useLive('message', {
    filters: { channel: channel.channel },
    sort: ['-createdAt', '-id'],
    limit: WINDOW,
  });
  // the authors of these messages only (those the user may read: others show as `User #<id>`)
  const authorIds = [
    ...new Set(messages.items.map((message) => message.userId).filter((id): id is number => id !== null)),
  ].sort((a, b) => a - b);
  const users = useLive(
    'user',
    authorIds.length ? { filters: { id: { in: authorIds } }, limit: authorIds.length } : null,
  );
  const me = session.me.value!.user;
  const scroller = useRef<HTMLOListElement>(null);
  const pinned = useRef(true);
  const ordered = [...messages.items].reverse();
  const newest = ordered.at(-1)?.id;

  // the newest message stays in view, unless the reader scrolled up to read older ones
  useLayoutEffect(() => {
    const list = scroller.current;
    const mine = ordered.at(-1)?.userId === me.id;
    if (list && (pinned.current || mine)) list.scrollTop = list.scrollHeight;
  }, [newest, messages.ready]);

  const author = (message: Message) => {
    if (message.userId === null) return 'A former user';
    const user = users.items.find((candidate) => candidate.id === message.userId);
    return user ? user.name || user.login : `User #${message.userId}`;
  };

  return (
    <div class="conversation">
      <header class="conversation-head">
        <h2>
          <Sigil category={channel.category} />
          {channel.label}
        </h2>
        <span class="muted">
          {channel.category === 'private'
            ? 'the team and the coordination'
            : channel.category === 'group'
              ? 'every team of the group'
              : 'the team’s public channel'}
        </span>
      </header>
      <ol
        class="messages"
        ref={scroller}
        aria-label={`Messages in ${channel.label}`}
        aria-live="polite"
        onScroll={(event) => {
          const list = event.currentTarget;
          pinned.current = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
        }}
      >
        {!messages.ready && <li class="empty">Loading…</li>}
        {messages.error ? (
          <li class="error" role="alert">
            {describeError(messages.error)}
          </li>
        ) : null}
        {messages.ready && ordered.length === 0 && <li class="empty">No message yet. Say hello.</li>}
        {ordered.map((message, index) => {
          const previous = ordered[index - 1];
          const day = dayOf(message.createdAt);
          const sameAuthor =
            previous?.userId === message.userId &&
            Date.parse(message.createdAt) - Date.parse(previous.createdAt) < 5 * 60_000;
          return (
            <Fragment key={message.id}>
              {day !== (previous && dayOf(previous.createdAt)) && (
                <li key={`day-${day}`} class="day">
                  {day}
                </li>
              )}
              <li
                data-message-id={message.id}
                class={`message${message.userId === me.id ? ' mine' : ''}${sameAuthor ? ' follow' : ''}`}
              >
                {!sameAuthor && (
                  <div class="meta">
                    <strong>{message.userId === me.id ? 'You' : author(message)}</strong>
                    <time dateTime={message.createdAt}>{timeOf(message.createdAt)}</time>
                  </div>
                )}
                <p class="text">{message.text}</p>
              </li>
            </Fragment>
          );
        })}
      </ol>
      {channel.write ? (
        <Compose channel={channel} />
      ) : (
        <p class="read-only muted">Your team reads this channel but cannot write in it.</p>
      )}
    </div>
  );
}

/** The box to write a message: Enter sends, Shift+Enter starts a new line. */
function Compose({ channel }: { channel: Channel }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);

  const send = async () => {
    const body = text.trim();
    if (!body || busy) return;
    setBusy(true);
    setError(null);
    try {
      await session.client.value.service('message').create({ text: body, channel: channel.channel });
      setText('');
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
      box.current?.focus();
    }
  };

  return (
    <form
      class="compose"
      onSubmit={(event) => {
        event.preventDefault();
        void send();
      }}
    >
      <ErrorMessage text={error} />
      <label class="visually-hidden" for="chat-message">
        Message to {channel.label}
      </label>
      <textarea
        id="chat-message"
        ref={box}
        name="text"
        rows={1}
        maxLength={5000}
        placeholder={`Message ${channel.label}`}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            void send();
          }
        }}
      />
      <button type="submit" disabled={busy || !text.trim()}>
        Send
      </button>
    </form>
  );
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

function dayOf(iso: string): string {
  return dayFormat.format(new Date(iso));
}

function timeOf(iso: string): string {
  return clockFormat.format(new Date(iso));
}
