// Banter chat page: the pure part. Nothing here touches the DOM or the
// network, so the rules that keep the message list right (dedupe by seq, find
// gaps, page backwards) can be checked in isolation (web/model_test.go runs
// them in headless Chromium).

// Room names as docs/protocol.md defines them.
const ROOM_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** canonicalRoom lowercases and trims a public room name; '' if invalid. */
export function canonicalRoom(name) {
  const r = String(name).trim().toLowerCase().replace(/^#/, '');
  return ROOM_RE.test(r) ? r : '';
}

/** dmRoom is the canonical direct-message room of two nicknames. */
export function dmRoom(a, b) {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()].sort();
  return `dm:${x}:${y}`;
}

/** isDM tells direct-message rooms from public ones. */
export function isDM(room) {
  return room.startsWith('dm:');
}

/** dmPeer is the other user's (lowercased) nickname in a DM room. */
export function dmPeer(room, me) {
  const parts = room.split(':');
  const mine = me.toLowerCase();
  return parts[1] === mine ? parts[2] : parts[1];
}

/**
 * checkNickname returns an error message for a nickname the server would
 * refuse, or '' — checked here so the common mistakes get an answer without a
 * round trip; the server stays the authority.
 */
export function checkNickname(nick) {
  const n = nick.trim();
  if (n === '') return 'Please choose a nickname.';
  if ([...n].length > 32) return 'A nickname has at most 32 characters.';
  if (n.includes(':')) return 'A nickname cannot contain ":".';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(n)) return 'A nickname cannot contain control characters.';
  return '';
}

/** typingText renders the list of people typing (the receiver excluded). */
export function typingText(nicknames, me) {
  const others = nicknames.filter((n) => n.toLowerCase() !== (me || '').toLowerCase());
  switch (others.length) {
    case 0: return '';
    case 1: return `${others[0]} is typing…`;
    case 2: return `${others[0]} and ${others[1]} are typing…`;
    case 3: return `${others[0]}, ${others[1]} and ${others[2]} are typing…`;
    default: return 'Several people are typing…';
  }
}

/**
 * RoomLog holds one room's messages keyed by seq, so a message received twice
 * (history, catch-up, a live event, the ack of one's own send) is kept once.
 *
 * frontier is the highest seq below which nothing is missing since the oldest
 * loaded message: it is what the client tells the server after a reconnect
 * (`since`), and a message above frontier+1 reveals a gap to fill.
 */
export class RoomLog {
  constructor() {
    this.bySeq = new Map();
    this.frontier = 0; // every seq in (oldest-1, frontier] is present
    this.oldest = 0; // lowest seq loaded; 0 when none
    this.hasOlder = false; // older messages exist on the server
    this.lastSeq = 0; // highest seq the server announced (join result)
  }

  /** size is the number of distinct messages held. */
  get size() {
    return this.bySeq.size;
  }

  /** newest is the highest seq held (0 if none). */
  get newest() {
    let max = 0;
    for (const s of this.bySeq.keys()) if (s > max) max = s;
    return max;
  }

  /**
   * add stores messages (any order, duplicates allowed) and returns those that
   * were new, ascending by seq. Messages without a positive integer seq are
   * ignored: they cannot be placed.
   */
  add(messages) {
    const added = [];
    for (const m of messages) {
      if (!m || !Number.isSafeInteger(m.seq) || m.seq < 1 || this.bySeq.has(m.seq)) continue;
      this.bySeq.set(m.seq, m);
      added.push(m);
      if (this.oldest === 0 || m.seq < this.oldest) this.oldest = m.seq;
    }
    added.sort((a, b) => a.seq - b.seq);
    while (this.bySeq.has(this.frontier + 1)) this.frontier++;
    return added;
  }

  /**
   * anchor says everything up to seq is accounted for: older history to page
   * through, not a gap. A fresh join anchors below its page (or at lastSeq
   * when the page is empty); a room first seen through a live message (a DM
   * someone sent us) anchors below that message.
   */
  anchor(seq) {
    if (seq > this.frontier) this.frontier = seq;
    if (seq > 0 && (this.oldest === 0 || seq < this.oldest)) this.hasOlder = true;
    while (this.bySeq.has(this.frontier + 1)) this.frontier++;
  }

  /** missing reports whether seqs the server has are not held yet. */
  missing() {
    return this.frontier < Math.max(this.lastSeq, this.newest);
  }

  /** sorted lists the messages ascending by seq. */
  sorted() {
    return [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  /** before returns the held message just before seq, or null. */
  before(seq) {
    let best = null;
    for (const m of this.bySeq.values()) {
      if (m.seq < seq && (!best || m.seq > best.seq)) best = m;
    }
    return best;
  }
}

/** newClientId makes client message ids unique per tab: "<random>-<n>". */
export function clientIdMaker(random) {
  let n = 0;
  return () => `${random}-${++n}`;
}

/** groupWith tells whether message b continues a's group (same sender, < 5 min). */
export function groupWith(a, b) {
  return !!a && !!b && a.from === b.from && Math.abs(b.ts - a.ts) < 5 * 60 * 1000;
}

/** initials of a nickname for its avatar. */
export function initials(nick) {
  const chars = [...nick.trim()];
  return (chars[0] || '?').toUpperCase();
}

/** hue derives a stable avatar color from a nickname. */
export function hue(nick) {
  let h = 0;
  for (const ch of nick.toLowerCase()) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 360;
}

/** errorText turns an ack error into a sentence for people. */
export function errorText(err) {
  if (!err) return 'Something went wrong.';
  const byCode = {
    nickname_taken: 'That nickname is taken by someone online.',
    invalid_nickname: 'That nickname is not allowed.',
    rate_limited: 'You are sending too fast.',
    message_too_large: 'That message is too long.',
    empty_message: 'That message is empty.',
    unavailable: 'The server is unavailable; try again.',
    forbidden: 'You cannot open that room.',
    invalid_room: 'Room names use letters, digits, "-" and "_".',
    timeout: 'No answer from the server.',
  };
  return byCode[err.code] || err.message || 'Something went wrong.';
}
