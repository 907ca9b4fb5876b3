/**
 * For a console without a terminal (a container made with hypervisor.tty=false:
 * its stdin and stdout are pipes), the page does what a tty's line discipline
 * would: it echoes what is typed, lets Backspace and Ctrl-U edit the line, and
 * sends the line with a newline on Enter. The container sees exactly the lines,
 * as `hvctl instance console` in a cooked local terminal gives them.
 */
export class LineEditor {
  private line: string[] = [];

  /** Keystrokes (one xterm onData chunk) in; what to show on the screen and what to send. */
  feed(keys: string): { echo: string; send: string } {
    // An escape sequence (arrows, function keys) means nothing on a pipe.
    if (keys.length > 1 && keys.startsWith('\x1b')) return { echo: '', send: '' };
    let echo = '';
    let send = '';
    for (const ch of keys) {
      if (ch === '\r' || ch === '\n') {
        echo += '\r\n';
        send += `${this.line.join('')}\n`;
        this.line = [];
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.line.pop() !== undefined) echo += '\b \b';
      } else if (ch === '\x15') {
        echo += '\b \b'.repeat(this.line.length);
        this.line = [];
      } else if (ch === '\x04') {
        // Ctrl-D: what is typed goes as it is, without a newline.
        send += this.line.join('');
        this.line = [];
      } else if (ch === '\x03') {
        // Ctrl-C drops the line: there is no process group to signal through a pipe.
        echo += '^C\r\n';
        this.line = [];
      } else if (ch >= ' ') {
        this.line.push(ch);
        echo += ch;
      }
    }
    return { echo, send };
  }
}
