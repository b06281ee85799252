// Banter chat page: message state, the pure part (web/msgstate_test.go runs
// it in headless Chromium). Changes (edited, reaction, deleted events, and
// the `changes` catch-up) each carry the message's state at a rev: keeping,
// per message, the state with the higher rev makes applying them
// idempotent and their order irrelevant (docs/protocol.md, Message state).

const revOf = (m) => (m && Number.isSafeInteger(m.rev) ? m.rev : 0);

/**
 * applyMessage replaces the held message of the same seq by m (a message
 * in its current state) unless the held one is newer. Returns the message
 * now held, or null when the log does not hold that seq.
 */
export function applyMessage(log, m) {
  if (!m || !Number.isSafeInteger(m.seq)) return null;
  const held = log.bySeq.get(m.seq);
  if (!held) return null;
  if (revOf(m) < revOf(held)) return held;
  log.bySeq.set(m.seq, m);
  return m;
}

/** applyReaction applies a `reaction` event. */
export function applyReaction(log, ev) {
  const held = ev && log.bySeq.get(ev.seq);
  if (!held) return null;
  if (revOf(ev) < revOf(held)) return held;
  const m = { ...held, rev: ev.rev, reactions: Array.isArray(ev.reactions) && ev.reactions.length ? ev.reactions : undefined };
  log.bySeq.set(m.seq, m);
  return m;
}

/** applyDeleted applies a `deleted` event: the message becomes a tombstone. */
export function applyDeleted(log, ev) {
  const held = ev && log.bySeq.get(ev.seq);
  if (!held) return null;
  if (ev.rev !== undefined && revOf(ev) < revOf(held)) return held;
  const m = { ...held, deleted: true, text: '', attachment: undefined, reactions: undefined, mentions: undefined };
  if (ev.rev !== undefined) m.rev = ev.rev;
  log.bySeq.set(m.seq, m);
  return m;
}

/**
 * requote updates the quotes of original (in its current state) in the
 * replies the log holds, and returns the replies that changed.
 */
export function requote(log, original) {
  const changed = [];
  for (const m of log.bySeq.values()) {
    const q = m.replyTo;
    if (!q || q.seq !== original.seq) continue;
    const text = original.deleted ? '' : [...original.text].slice(0, 200).join('');
    const file = !original.deleted && original.attachment ? original.attachment.name : undefined;
    if (q.text === text && q.file === file && !!q.deleted === !!original.deleted) continue;
    const next = { ...m, replyTo: { ...q, text, file, deleted: !!original.deleted } };
    log.bySeq.set(m.seq, next);
    changed.push(next);
  }
  return changed;
}

/** reacted tells whether nickname is among a reaction's listed users. */
export function reacted(reaction, nickname) {
  const me = String(nickname).toLowerCase();
  return Array.isArray(reaction.users) && reaction.users.some((u) => String(u).toLowerCase() === me);
}

/**
 * countUnread counts the held messages after read that others sent and
 * that are not deleted, and those of them that mention myKey.
 */
export function countUnread(messages, read, me, myKey) {
  let unread = 0;
  let mentions = 0;
  const mine = String(me).toLowerCase();
  for (const m of messages) {
    if (m.seq <= read || m.deleted || String(m.from).toLowerCase() === mine) continue;
    unread++;
    if (Array.isArray(m.mentions) && m.mentions.includes(myKey)) mentions++;
  }
  return { unread, mentions };
}

/**
 * seenText is the line under the reader's last message of a room: in a DM
 * "Seen" or "Delivered" (by the other user's markers), in a room "Seen by
 * A, B and 3 others"; '' when nobody else has. readers are markers
 * ({nickname, read, delivered}), seq the message's.
 */
export function seenText(readers, seq, me, dm) {
  const mine = String(me).toLowerCase();
  const others = readers.filter((r) => String(r.nickname).toLowerCase() !== mine);
  const seen = others.filter((r) => r.read >= seq).map((r) => r.nickname);
  if (dm) {
    if (seen.length) return 'Seen';
    return others.some((r) => r.delivered >= seq) ? 'Delivered' : '';
  }
  if (seen.length === 0) return '';
  seen.sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
  if (seen.length <= 3) {
    const last = seen.pop();
    return `Seen by ${seen.length ? `${seen.join(', ')} and ` : ''}${last}`;
  }
  return `Seen by ${seen.slice(0, 2).join(', ')} and ${seen.length - 2} others`;
}

/** badgeText is the unread badge: "3", "99+", with "@" when mentioned. */
export function badgeText(unread, mentions) {
  if (!unread) return '';
  const n = unread > 99 ? '99+' : String(unread);
  return mentions > 0 ? `@ ${n}` : n;
}
