//! Getting the user's attention when a question arrives: a short tone, a vibration, a system notification.
//
// Browsers allow sound only after a user gesture, so the audio context is created on the first
// tap or key press. System notifications need an explicit opt-in (a button), and on Android they
// only work through a service worker registration, so `sw.js` is registered for that.

const SOUND_KEY = 'cr.sound';
const NOTIFY_KEY = 'cr.notify';
/** Vibration pattern for a new question, in ms: buzz, pause, buzz. */
const VIBRATE_PATTERN = [120, 80, 120];
/** The two notes of the chime (Hz) and how long each lasts (s): short, and rising so it reads as "look". */
const CHIME = [[880, 0.09], [1320, 0.12]];
/** Peak gain of the chime: audible on a phone speaker without being startling. */
const CHIME_GAIN = 0.18;

export class Alerts {
  constructor() {
    this.ctx = null;
    this.registration = null;
    const unlock = () => this.unlock();
    window.addEventListener('pointerdown', unlock, { capture: true });
    window.addEventListener('keydown', unlock, { capture: true });
  }

  /** Sound is on unless the user turned it off. */
  get soundOn() {
    return localStorage.getItem(SOUND_KEY) !== 'off';
  }

  set soundOn(on) {
    localStorage.setItem(SOUND_KEY, on ? 'on' : 'off');
  }

  /** True when notifications are supported at all. */
  get notifySupported() {
    return 'Notification' in window;
  }

  /** True when the user opted in and the browser allows it. */
  get notifyOn() {
    return this.notifySupported && Notification.permission === 'granted'
      && localStorage.getItem(NOTIFY_KEY) === 'on';
  }

  /** Registers the service worker when notifications are on (needed on Android). */
  async init() {
    if (this.notifyOn) await this.register();
  }

  async register() {
    if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
    try {
      this.registration = await navigator.serviceWorker.register('sw.js');
    } catch {
      this.registration = null; // Plain `new Notification` still works on desktop browsers.
    }
  }

  /** Asks for permission (from a button's click); returns the resulting state. */
  async enableNotifications() {
    if (!this.notifySupported) return 'unsupported';
    const result = await Notification.requestPermission();
    if (result === 'granted') {
      localStorage.setItem(NOTIFY_KEY, 'on');
      await this.register();
    }
    return result;
  }

  disableNotifications() {
    localStorage.setItem(NOTIFY_KEY, 'off');
  }

  unlock() {
    if (this.ctx) {
      if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
      return;
    }
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (Ctx) this.ctx = new Ctx();
  }

  /** Tone + vibration + (if opted in and the page is not in front) a system notification. */
  question({ title, body, tag, url }) {
    if (this.soundOn) this.chime();
    if (navigator.vibrate) {
      try {
        navigator.vibrate(VIBRATE_PATTERN);
      } catch {
        // Some browsers throw before the first user gesture; nothing to do.
      }
    }
    if (this.notifyOn && (document.hidden || !document.hasFocus())) this.notify(title, body, tag, url);
  }

  chime() {
    const ctx = this.ctx;
    if (!ctx || ctx.state !== 'running') return;
    let t = ctx.currentTime + 0.01;
    for (const [freq, dur] of CHIME) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(CHIME_GAIN, t + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + dur);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + dur + 0.02);
      t += dur + 0.03;
    }
  }

  async notify(title, body, tag, url) {
    const options = { body, tag, renotify: true, icon: 'icons/icon-192.png', badge: 'icons/icon-192.png', data: { url } };
    try {
      if (this.registration) {
        // Registering resolves before the worker is active, and showing a notification
        // without an active worker fails: a question right after opting in would be lost.
        const active = await navigator.serviceWorker.ready;
        await active.showNotification(title, options);
      } else {
        const n = new Notification(title, options);
        n.onclick = () => {
          window.focus();
          if (url) location.assign(url);
          n.close();
        };
      }
    } catch {
      // A browser that refuses (Android without a worker) still got the tone and the vibration.
    }
  }
}
