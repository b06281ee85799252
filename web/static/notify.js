// Banter chat page: browser notifications for messages that mention the
// reader or are direct messages to it, while the page is hidden. The page
// never asks for the permission by itself: a quiet button in the sidebar
// offers it ("Not now" hides it for good on this device), and the browser's
// prompt appears only when the user clicks it.

let app = null; // state, el, switchRoom, isDM, storage

const DISMISSED = 'banter.notify.dismissed';

// The API is read at each use: it may appear, or be replaced, after load.
const api = () => (typeof window.Notification === 'function' ? window.Notification : null);

/** initNotify adds the offer to the sidebar (app.js calls it once). */
export function initNotify(ctx) {
  app = ctx;
  const { el } = app;
  const box = el('div', 'notify-offer');
  box.id = 'notify-offer';
  const text = el('p', 'notify-text', 'Get a notification when someone mentions you or sends you a direct message while this page is hidden.');
  const yes = el('button', 'button primary notify-yes', 'Turn on notifications');
  yes.type = 'button';
  yes.id = 'notify-yes';
  const no = el('button', 'link-button notify-no', 'Not now');
  no.type = 'button';
  yes.addEventListener('click', async () => {
    const N = api();
    if (!N) return;
    try {
      await N.requestPermission();
    } catch { /* an old browser's callback form: nothing to do */ }
    render();
  });
  no.addEventListener('click', () => {
    app.storage.set('localStorage', DISMISSED, true);
    render();
  });
  box.append(text, yes, no);
  document.getElementById('sidebar').appendChild(box);
  // The permission may change in the browser's settings meanwhile.
  document.addEventListener('visibilitychange', render);
  window.addEventListener('focus', render);
  render();
}

/** render shows the offer while the choice is the user's to make. */
export function render() {
  const box = document.getElementById('notify-offer');
  if (!box) return;
  const N = api();
  box.hidden = !N || N.permission !== 'default' || app.storage.get('localStorage', DISMISSED, false) === true;
}

/**
 * onMessages notifies of live messages that mention the reader or are DMs
 * from someone else, when the page is hidden and the user allowed it.
 */
export function onMessages(room, added) {
  const N = api();
  if (!N || N.permission !== 'granted' || !document.hidden) return;
  const { state } = app;
  for (const m of added) {
    if (m.deleted || String(m.from).toLowerCase() === state.nickname.toLowerCase()) continue;
    const dm = app.isDM(room.name);
    const mentioned = Array.isArray(m.mentions) && m.mentions.includes(state.key);
    if (!dm && !mentioned) continue;
    const title = dm ? m.from : `${m.from} in #${room.name}`;
    try {
      const file = m.attachment && typeof m.attachment.name === 'string' ? `📎 ${m.attachment.name}` : '';
      const body = [String(m.text || ''), file].filter(Boolean).join('\n').slice(0, 200);
      const n = new N(title, { body, tag: `banter-${room.name}` });
      n.onclick = () => {
        window.focus();
        app.switchRoom(room.name);
        n.close();
      };
    } catch { /* some browsers only notify from a service worker */ }
  }
}
