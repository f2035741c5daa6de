() => {
  // The chat page's own behaviour (loaded once by app.py; each event calls one of these).
  //
  // Where the eye goes after a turn: the start of its reply (the verdict first), not the end of a
  // long one. The chat's rows are counted when a message or button is sent (idiaMark); after the
  // turn the chat scrolls so that the turn's first reply is at its top (idiaScrollToReply), again
  // while pictures above it finish loading.
  window.idiaMark = () => {
    window.__idiaRows = document.querySelectorAll('#chat .message-row').length;
  };
  // The box's file input keeps the files it last picked: picking the same files again (after
  // "reset", say) would change nothing and attach nothing. Forget them once the message is sent.
  window.idiaForgetFiles = () => {
    document.querySelectorAll('#box input[type=file]').forEach(i => { i.value = ''; });
  };
  window.idiaScrollToEnd = () => requestAnimationFrame(() => {
    const wrap = document.querySelector('#chat .bubble-wrap');
    if (wrap) wrap.scrollTop = wrap.scrollHeight;
  });
  window.idiaScrollToReply = () => {
    const start = window.__idiaRows || 0;
    const place = () => {
      const wrap = document.querySelector('#chat .bubble-wrap');
      if (!wrap) return;
      const rows = [...wrap.querySelectorAll('.message-row')];
      let from = start;
      rows.forEach((r, i) => { if (i >= start && r.classList.contains('user-row')) from = i + 1; });
      const first = rows.slice(from).find(r => r.classList.contains('bot-row'));
      if (!first) return;
      // its top just under the chat's label
      wrap.scrollTop += first.getBoundingClientRect().top - wrap.getBoundingClientRect().top - 30;
      const chat = document.querySelector('#chat');
      const box = chat.getBoundingClientRect();
      if (box.top < 0 || box.top > window.innerHeight * 0.5) chat.scrollIntoView({block: 'start'});
    };
    const again = () => requestAnimationFrame(place);
    setTimeout(() => {
      place();
      document.querySelectorAll('#chat img').forEach(i => {
        if (!i.complete) i.addEventListener('load', again, {once: true});
      });
    }, 60);
    setTimeout(place, 600);
  };
}
