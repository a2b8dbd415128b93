const STEPS = JSON.parse(document.getElementById('steps').textContent);
const T = JSON.parse(document.getElementById('ui').textContent);
let cur = -1, timer = null;
function fmt(s){ if(!s) return '-';
  let t = 'shape (' + s.shape.join(', ') + '), |g| = ' + s.norm.toPrecision(4);
  if (s.values) t += '\n[' + s.values.map(v => v.toPrecision(4)).join(', ') + ']';
  return t; }
function heat(s){ if(!s || !s.heat) return null;
  const c = document.createElement('canvas'); const h = s.heat.length, w = s.heat[0].length;
  c.width = w*8; c.height = h*8; const x = c.getContext('2d');
  let m = 1e-30; s.heat.forEach(r => r.forEach(v => m = Math.max(m, Math.abs(v))));
  s.heat.forEach((r,i) => r.forEach((v,j) => { const a = Math.abs(v)/m;
    x.fillStyle = v >= 0 ? `rgba(220,38,38,${a})` : `rgba(37,99,235,${a})`;
    x.fillRect(j*8, i*8, 8, 8); }));
  return c; }
function show(k){
  cur = Math.max(-1, Math.min(STEPS.length - 1, k));
  document.querySelectorAll('.vertex').forEach(v => v.classList.remove('current','done'));
  document.querySelectorAll('.edge').forEach(e => e.classList.remove('sent'));
  const p = document.getElementById('info'); p.innerHTML = '';
  document.getElementById('counter').textContent = T.step + ' ' + (cur + 1) + ' / ' + STEPS.length;
  for (let i = 0; i < cur; i++) { const el = document.getElementById(STEPS[i].op); if (el) el.classList.add('done'); }
  if (cur < 0) return;
  const s = STEPS[cur]; const el = document.getElementById(s.op);
  if (el) { el.classList.add('current'); el.scrollIntoView({block:'nearest', inline:'nearest'}); }
  const add = (tag, text) => { const e = document.createElement(tag); e.textContent = text; p.appendChild(e); return e; };
  add('h3', s.name); add('b', T.rule); add('pre', s.rule || '-');
  add('b', T.incoming); add('pre', fmt(s.incoming)); const hc = heat(s.incoming); if (hc) p.appendChild(hc);
  add('b', T.sent);
  s.sent.forEach(d => { add('pre', d.tensor + ': ' + fmt(d.grad) + (d.shared ? '\n(' + T.accumulated + ')' : ''));
    const c = heat(d.grad); if (c) p.appendChild(c);
    document.querySelectorAll(`.edge[data-source="${d.tensor}"][data-target="${s.op}"]`).forEach(e => e.classList.add('sent')); });
}
function next(){ show(cur + 1); } function prev(){ show(cur - 1); }
function run(){ if (timer) { clearInterval(timer); timer = null; return; }
  timer = setInterval(() => { if (cur >= STEPS.length - 1) { clearInterval(timer); timer = null; } else next(); }, 600); }
document.getElementById('next').onclick = next; document.getElementById('prev').onclick = prev;
document.getElementById('run').onclick = run;
document.addEventListener('keydown', e => { if (e.key === 'ArrowRight') next(); else if (e.key === 'ArrowLeft') prev();
  else if (e.key === ' ') { e.preventDefault(); run(); } });
window.handgradSteps = STEPS; window.handgradShow = show; window.handgradCurrent = () => cur;
show(-1);
