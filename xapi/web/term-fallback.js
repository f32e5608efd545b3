// A plain-text stand-in for xterm.js when the build had no xterm.js: the
// console's output in a <pre>, and the keys typed into it sent as they
// are (Enter as CR, as a terminal would).
export class FallbackTerminal {
  constructor() {
    this.dec = new TextDecoder();
    this.handlers = [];
  }
  open(el) {
    this.pre = document.createElement('pre');
    this.pre.className = 'term-fallback';
    this.pre.tabIndex = 0;
    this.pre.setAttribute('aria-label', 'VM console');
    this.pre.addEventListener('keydown', (e) => {
      let s = null;
      if (e.key === 'Enter') s = '\r';
      else if (e.key === 'Backspace') s = '\x7f';
      else if (e.key.length === 1 && !e.ctrlKey && !e.metaKey) s = e.key;
      if (s !== null) {
        e.preventDefault();
        for (const h of this.handlers) h(s);
      }
    });
    el.appendChild(this.pre);
  }
  write(data) {
    const text = typeof data === 'string' ? data : this.dec.decode(data, { stream: true });
    this.pre.textContent += text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    this.pre.scrollTop = this.pre.scrollHeight;
  }
  onData(h) {
    this.handlers.push(h);
  }
  focus() {
    this.pre.focus();
  }
  dispose() {
    this.pre.remove();
  }
}
