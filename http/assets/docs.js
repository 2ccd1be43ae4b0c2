// API reference: renders the service's OpenAPI document (/openapi.json) and
// lets a reader send requests from the page. No dependencies; every string
// taken from the document is inserted as text, never as markup.
(function () {
  'use strict';

  const SPEC_URL = new URL('/openapi.json', location);
  const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
  const STORE = 'boxoffice.docs.';
  const CRED_NAMES = { access: 'access token', queue: 'queue token', admin: 'admin key' };
  const MAX_DEPTH = 24;

  let spec = null;
  const ops = [];
  const groups = [];
  const sendsUpdaters = [];
  let seq = 0;

  // ---------- DOM helpers ----------

  function h(tag, props, ...kids) {
    const n = document.createElement(tag);
    if (props) {
      for (const k of Object.keys(props)) {
        const v = props[k];
        if (v == null || v === false) continue;
        if (k === 'class') n.className = v;
        else if (k === 'text') n.textContent = String(v);
        else if (k.slice(0, 2) === 'on') n.addEventListener(k.slice(2), v);
        else n.setAttribute(k, v === true ? '' : String(v));
      }
    }
    return add(n, kids);
  }

  function add(n, kids) {
    for (const c of kids) {
      if (c == null || c === false) continue;
      if (Array.isArray(c)) add(n, c);
      else n.append(c instanceof Node ? c : String(c));
    }
    return n;
  }

  function uid(prefix) { seq += 1; return (prefix || 'f') + '-' + seq; }
  function $(sel) { return document.querySelector(sel); }
  function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function short(v) {
    let s;
    try { s = JSON.stringify(v); } catch (e) { s = String(v); }
    if (s === undefined) s = String(v);
    return s.length > 90 ? s.slice(0, 87) + '…' : s;
  }

  // ---------- text with light markdown (paragraphs, lists, `code`, **bold**, links) ----------

  function md(text) {
    if (text == null || text === '') return null;
    const box = h('div', { class: 'desc' });
    const src = String(text).replace(/\r\n?/g, '\n');
    const fence = /```[^\n]*\n([\s\S]*?)```/g;
    let last = 0;
    let m;
    while ((m = fence.exec(src))) {
      blocks(box, src.slice(last, m.index));
      box.append(h('pre', null, h('code', { text: m[1] })));
      last = fence.lastIndex;
    }
    blocks(box, src.slice(last));
    return box;
  }

  function blocks(box, text) {
    for (const b of text.split(/\n\s*\n/)) {
      if (!b.trim()) continue;
      const lines = b.split('\n').filter((l) => l.trim());
      if (lines.every((l) => /^\s*[-*] /.test(l))) {
        box.append(h('ul', null, lines.map((l) => h('li', null, inline(l.replace(/^\s*[-*] /, ''))))));
      } else {
        box.append(h('p', null, inline(b.trim())));
      }
    }
  }

  function inline(s) {
    const out = [];
    const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
    let last = 0;
    let m;
    while ((m = re.exec(s))) {
      if (m.index > last) out.push(s.slice(last, m.index));
      if (m[1] != null) out.push(h('code', { text: m[1] }));
      else if (m[2] != null) out.push(h('strong', { text: m[2] }));
      else if (/^(https?:\/\/|\/|#)/i.test(m[4])) out.push(h('a', { href: m[4], text: m[3], rel: 'noopener' }));
      else out.push(m[3]);
      last = re.lastIndex;
    }
    out.push(s.slice(last));
    return out;
  }

  // ---------- references and schemas ----------

  function pointer(ref) {
    if (typeof ref !== 'string' || ref.slice(0, 2) !== '#/') return undefined;
    let cur = spec;
    for (const raw of ref.slice(2).split('/')) {
      const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
      cur = cur[key];
    }
    return cur;
  }

  function refName(ref) {
    return String(ref).split('/').pop().replace(/~1/g, '/').replace(/~0/g, '~');
  }

  // deref follows a chain of $ref (parameters, responses, bodies) with a bound.
  function deref(o) {
    for (let i = 0; i < 16 && isObj(o) && typeof o.$ref === 'string'; i++) {
      const t = pointer(o.$ref);
      if (t === undefined) return o;
      o = t;
    }
    return o;
  }

  // view merges a schema's $ref target with the keywords written beside the $ref.
  function view(s) {
    if (!isObj(s) || typeof s.$ref !== 'string') return isObj(s) ? s : {};
    const t = deref(s);
    const own = Object.assign({}, s);
    delete own.$ref;
    return Object.assign({}, isObj(t) && t !== s ? t : {}, own);
  }

  function typeList(s) {
    const t = s.type;
    if (t == null) return [];
    return Array.isArray(t) ? t : [t];
  }

  function typeLabel(s, depth) {
    depth = depth || 0;
    if (s === true || s == null) return 'any';
    if (s === false) return 'never';
    if (!isObj(s)) return 'any';
    if (typeof s.$ref === 'string') return refName(s.$ref);
    const ts = typeList(s);
    let parts = ts.filter((t) => t !== 'null').map((t) => {
      if (t === 'array') return 'array<' + (depth < 6 && s.items ? typeLabel(s.items, depth + 1) : 'any') + '>';
      if (t === 'object' && !s.properties && isObj(s.additionalProperties)) {
        return 'map<string, ' + (depth < 6 ? typeLabel(s.additionalProperties, depth + 1) : 'any') + '>';
      }
      return t;
    });
    if (!parts.length) {
      if (s.oneOf) parts = ['one of'];
      else if (s.anyOf) parts = ['any of'];
      else if (s.allOf) parts = ['all of'];
      else if (s.properties) parts = ['object'];
      else if ('const' in s) parts = [typeof s.const];
      else if (s.items) parts = ['array<' + (depth < 6 ? typeLabel(s.items, depth + 1) : 'any') + '>'];
      else parts = ['any'];
    }
    let label = parts.join(' | ');
    if (s.format) label += ' (' + s.format + ')';
    if (ts.indexOf('null') >= 0 || s.nullable === true) label += ' | null';
    return label;
  }

  function typeNode(s) {
    const label = typeLabel(s);
    if (isObj(s) && typeof s.$ref === 'string' && s.$ref.indexOf('#/components/schemas/') === 0) {
      return h('a', { class: 'type', href: '#schema-' + refName(s.$ref), text: label });
    }
    return h('span', { class: 'type', text: label });
  }

  function range(name, lo, hi) {
    if (lo != null && hi != null) return name + ' ' + lo + '–' + hi;
    if (lo != null) return name + ' ≥ ' + lo;
    if (hi != null) return name + ' ≤ ' + hi;
    return null;
  }

  function facets(s) {
    const out = [];
    const chip = (text, cls) => { if (text != null) out.push(h('span', { class: 'chip' + (cls ? ' ' + cls : ''), text: text })); };
    if (!isObj(s)) return out;
    if ('const' in s) chip('= ' + short(s.const));
    if (Array.isArray(s.enum)) chip('enum: ' + s.enum.map(short).join(', '));
    if (typeof s.exclusiveMinimum === 'number') chip('> ' + s.exclusiveMinimum);
    else if (s.minimum != null) chip((s.exclusiveMinimum === true ? '> ' : '≥ ') + s.minimum);
    if (typeof s.exclusiveMaximum === 'number') chip('< ' + s.exclusiveMaximum);
    else if (s.maximum != null) chip((s.exclusiveMaximum === true ? '< ' : '≤ ') + s.maximum);
    if (s.multipleOf != null) chip('multiple of ' + s.multipleOf);
    chip(range('length', s.minLength, s.maxLength));
    chip(range('items', s.minItems, s.maxItems));
    if (s.uniqueItems) chip('unique items');
    chip(range('properties', s.minProperties, s.maxProperties));
    if (s.pattern) chip('pattern: ' + s.pattern);
    if (s.contentMediaType) chip('media: ' + s.contentMediaType);
    if ('default' in s) chip('default: ' + short(s.default));
    if (Array.isArray(s.examples) && s.examples.length) chip('example: ' + short(s.examples[0]));
    else if ('example' in s) chip('example: ' + short(s.example));
    if (s.readOnly) chip('read-only', 'flag');
    if (s.writeOnly) chip('write-only', 'flag');
    if (s.deprecated) chip('deprecated', 'bad');
    return out;
  }

  // children renders what lies inside a schema (properties, items, alternatives)
  // as a nested list, or returns null. stack holds the $refs being expanded.
  function children(s, stack, depth) {
    if (!isObj(s)) return null;
    if (depth > MAX_DEPTH) return note('… nested too deep');
    if (typeof s.$ref === 'string') {
      if (stack.indexOf(s.$ref) >= 0) return note('↻ recursive: ' + refName(s.$ref) + ' (see above)');
      const t = pointer(s.$ref);
      if (t === undefined) return note('unresolved reference ' + s.$ref);
      return children(t, stack.concat(s.$ref), depth);
    }
    const ul = h('ul', { class: 'tree' });
    if (Array.isArray(s.allOf)) {
      for (const part of s.allOf) {
        const c = children(part, stack, depth);
        if (c) add(ul, Array.from(c.childNodes));
      }
    }
    for (const kw of ['oneOf', 'anyOf']) {
      if (!Array.isArray(s[kw])) continue;
      s[kw].forEach((alt, i) => {
        const v = view(alt);
        const name = (kw === 'oneOf' ? 'one of #' : 'any of #') + (i + 1) + (v.title ? ': ' + v.title : '');
        ul.append(node(name, alt, false, stack, depth, true));
      });
      if (isObj(s.discriminator) && s.discriminator.propertyName) {
        ul.append(h('li', { class: 'note', text: 'chosen by property “' + s.discriminator.propertyName + '”' }));
      }
    }
    const props = isObj(s.properties) ? s.properties : {};
    const req = Array.isArray(s.required) ? s.required : [];
    for (const k of Object.keys(props)) {
      if (k === '$schema' && isObj(props[k]) && props[k].readOnly) continue;
      ul.append(node(k, props[k], req.indexOf(k) >= 0, stack, depth));
    }
    if (isObj(s.additionalProperties)) {
      ul.append(node(s.properties ? '[other keys]' : '[key]', s.additionalProperties, false, stack, depth));
    }
    if (s.items !== undefined && isObj(s.items)) {
      const inner = children(s.items, stack, depth + 1);
      const iv = view(s.items);
      if (inner && inner.classList.contains('tree') && !facets(iv).length && !iv.description) {
        add(ul, Array.from(inner.childNodes));
      } else if (inner || facets(iv).length || iv.description) {
        ul.append(node('[item]', s.items, false, stack, depth));
      }
    }
    if (s.not !== undefined) ul.append(node('not', s.not, false, stack, depth));
    return ul.childNodes.length ? ul : null;
  }

  function note(text) {
    return h('ul', { class: 'tree' }, h('li', { class: 'note', text: text }));
  }

  function node(name, s, required, stack, depth, alt) {
    const v = view(s);
    const row = h('div', { class: 'row' },
      h('span', { class: alt ? 'pname note' : 'pname', text: name }),
      required ? h('span', { class: 'req', title: 'required', text: '*' }) : null,
      typeNode(s), facets(v), v.title && !alt ? h('span', { class: 'note', text: v.title }) : null,
      md(v.description));
    const kids = children(s, stack, depth + 1);
    if (!kids) return h('li', null, row);
    return h('li', null, h('details', { open: depth < 1 || alt }, h('summary', null, row), kids));
  }

  function schemaView(s) {
    const v = view(s);
    const box = h('div', { class: 'schema' },
      h('div', { class: 'row' }, typeNode(s), facets(v), md(v.description)));
    const kids = children(s, [], 0);
    if (kids) { kids.classList.add('root'); box.append(kids); }
    return box;
  }

  // ---------- examples ----------

  // example builds a sample value; mode "req" skips read-only and "res" write-only properties.
  // It returns undefined where no value can be made (a recursive reference).
  function example(s, mode, stack, depth) {
    stack = stack || [];
    depth = depth || 0;
    if (!isObj(s) || depth > MAX_DEPTH) return undefined;
    if (typeof s.$ref === 'string') {
      if (stack.indexOf(s.$ref) >= 0) return undefined;
      const t = pointer(s.$ref);
      if (!isObj(t)) return undefined;
      const own = Object.assign({}, s);
      delete own.$ref;
      return example(Object.assign({}, t, own), mode, stack.concat(s.$ref), depth + 1);
    }
    if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
    if ('example' in s) return s.example;
    if ('const' in s) return s.const;
    if ('default' in s) return s.default;
    if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
    if (Array.isArray(s.allOf)) {
      const o = {};
      for (const p of s.allOf) {
        const v = example(p, mode, stack, depth + 1);
        if (isObj(v)) Object.assign(o, v);
        else if (v !== undefined) return v;
      }
      return o;
    }
    const alts = s.oneOf || s.anyOf;
    if (Array.isArray(alts) && alts.length) return example(alts[0], mode, stack, depth + 1);
    const t = typeList(s).filter((x) => x !== 'null')[0] ||
      (s.properties ? 'object' : s.items ? 'array' : typeList(s)[0]);
    switch (t) {
      case 'object': {
        const o = {};
        const props = isObj(s.properties) ? s.properties : {};
        for (const k of Object.keys(props)) {
          const p = view(props[k]);
          if ((mode === 'req' && p.readOnly) || (mode === 'res' && p.writeOnly)) continue;
          if (k === '$schema' && p.readOnly) continue;
          const v = example(props[k], mode, stack, depth + 1);
          if (v !== undefined) o[k] = v;
        }
        if (!s.properties && isObj(s.additionalProperties)) {
          const v = example(s.additionalProperties, mode, stack, depth + 1);
          if (v !== undefined) o.key = v;
        }
        return o;
      }
      case 'array': {
        const v = example(s.items, mode, stack, depth + 1);
        return v === undefined ? [] : [v];
      }
      case 'string': return stringExample(s.format);
      case 'integer':
      case 'number':
        if (s.minimum != null) return s.minimum;
        if (typeof s.exclusiveMinimum === 'number') return s.exclusiveMinimum + 1;
        if (s.maximum != null && s.maximum < 0) return s.maximum;
        return 0;
      case 'boolean': return false;
      case 'null': return null;
      default: return undefined;
    }
  }

  function stringExample(format) {
    const now = new Date().toISOString();
    switch (format) {
      case 'date-time': return now.replace(/\.\d+Z$/, 'Z');
      case 'date': return now.slice(0, 10);
      case 'time': return now.slice(11, 19) + 'Z';
      case 'uuid': return '01900000-0000-7000-8000-000000000000';
      case 'email': return 'user@example.com';
      case 'uri': case 'url': return 'https://example.com/';
      case 'duration': return 'PT1M';
      case 'ipv4': return '192.0.2.1';
      default: return 'string';
    }
  }

  function exampleOf(media, schema, mode) {
    if (isObj(media)) {
      if ('example' in media) return media.example;
      if (isObj(media.examples)) {
        for (const k of Object.keys(media.examples)) {
          const e = deref(media.examples[k]);
          if (isObj(e) && 'value' in e) return e.value;
        }
      }
    }
    return example(schema, mode);
  }

  // ---------- security ----------

  function scheme(name, path) {
    const comps = isObj(spec.components) && isObj(spec.components.securitySchemes) ? spec.components.securitySchemes : {};
    const sc = deref(comps[name]) || {};
    const text = name + ' ' + (sc.name || '') + ' ' + (sc.description || '');
    const adminish = /admin/i.test(text) || /\/admin(\/|$)/.test(path || '');
    const info = { name: name, desc: sc.description || '', where: null, cred: null, label: name };
    if (sc.type === 'http' && /^bearer$/i.test(sc.scheme || '')) {
      info.cred = adminish ? 'admin' : 'access';
      info.where = { in: 'header', name: 'Authorization', prefix: 'Bearer ' };
      info.label = 'Authorization: Bearer <' + CRED_NAMES[info.cred] + '>';
    } else if (sc.type === 'apiKey' && sc.name) {
      info.cred = /queue/i.test(text) ? 'queue' : adminish ? 'admin' : 'access';
      info.where = { in: sc.in || 'header', name: sc.name, prefix: '' };
      info.label = sc.in === 'query' ? '?' + sc.name + '=<' + CRED_NAMES[info.cred] + '>'
        : sc.in === 'cookie' ? 'cookie ' + sc.name : sc.name + ': <' + CRED_NAMES[info.cred] + '>';
    } else if (sc.type === 'oauth2' || sc.type === 'openIdConnect') {
      info.cred = 'access';
      info.where = { in: 'header', name: 'Authorization', prefix: 'Bearer ' };
      info.label = 'Authorization: Bearer <' + CRED_NAMES.access + '> (' + sc.type + ')';
    } else if (sc.type) {
      info.label = name + ' (' + sc.type + (sc.scheme ? ' ' + sc.scheme : '') + ')';
    }
    return info;
  }

  function securityOf(op) {
    const s = Array.isArray(op.security) ? op.security : Array.isArray(spec.security) ? spec.security : [];
    return s.filter(isObj);
  }

  function securityView(o) {
    const reqs = o.security;
    if (!reqs.length) return h('div', null, h('span', { class: 'chip', text: 'no credentials' }));
    const line = h('div');
    reqs.forEach((r, i) => {
      if (i) line.append(h('span', { class: 'note', text: ' or ' }));
      const keys = Object.keys(r);
      if (!keys.length) { line.append(h('span', { class: 'chip', text: 'no credentials' })); return; }
      keys.forEach((k, j) => {
        const info = scheme(k, o.path);
        if (j) line.append(' + ');
        const scopes = Array.isArray(r[k]) && r[k].length ? ' [' + r[k].join(', ') + ']' : '';
        line.append(h('span', { class: 'chip sec', title: info.desc || info.name, text: info.label + scopes }));
      });
    });
    return line;
  }

  // ---------- credentials ----------

  function load(k) { try { return sessionStorage.getItem(STORE + k) || ''; } catch (e) { return ''; } }
  function save(k, v) {
    try { if (v) sessionStorage.setItem(STORE + k, v); else sessionStorage.removeItem(STORE + k); } catch (e) { /* storage unavailable */ }
  }
  function credInput(k) { return document.querySelector('[data-cred="' + k + '"]'); }
  function cred(k) { const i = credInput(k); return i ? i.value.trim() : ''; }
  function setCred(k, v) {
    const i = credInput(k);
    if (!i) return;
    i.value = v;
    save(k, v);
    sendsUpdaters.forEach((f) => f());
  }

  // plan picks the first security alternative whose credentials are all filled in.
  function plan(o) {
    let first = null;
    let anonymous = false;
    for (const r of o.security) {
      const infos = Object.keys(r).map((k) => scheme(k, o.path));
      if (!infos.length) { anonymous = true; continue; }
      if (!first) first = infos;
      if (infos.every((i) => i.where && cred(i.cred))) return { use: infos, missing: [] };
    }
    if (anonymous || !first) return { use: [], missing: [] };
    const ok = (i) => i.where && cred(i.cred);
    return { use: first.filter(ok), missing: first.filter((i) => !ok(i)) };
  }

  // ---------- operations ----------

  function collect() {
    const paths = isObj(spec.paths) ? spec.paths : {};
    const used = {};
    for (const path of Object.keys(paths)) {
      const item = deref(paths[path]);
      if (!isObj(item)) continue;
      for (const method of METHODS) {
        const op = item[method];
        if (!isObj(op)) continue;
        const params = [];
        const seen = {};
        for (const p of [].concat(op.parameters || [], item.parameters || [])) {
          const q = deref(p);
          if (!isObj(q) || !q.name) continue;
          const key = q.in + ':' + q.name;
          if (seen[key]) continue;
          seen[key] = true;
          params.push(q);
        }
        let id = op.operationId ? String(op.operationId).replace(/\s+/g, '-') : (method + path).replace(/[^A-Za-z0-9_-]+/g, '-').replace(/-+$/, '');
        if (used[id]) id += '-' + (++used[id]);
        else used[id] = 1;
        const tag = Array.isArray(op.tags) && op.tags.length ? String(op.tags[0]) : 'Other';
        const o = { id: id, method: method, path: path, op: op, tag: tag, params: params, security: null };
        o.security = securityOf(op);
        o.text = [method, path, op.summary, op.operationId, op.description, tag].join(' ').toLowerCase();
        ops.push(o);
      }
    }
  }

  function paramSchema(p) {
    if (isObj(p.schema)) return p.schema;
    if (isObj(p.content)) {
      const k = Object.keys(p.content)[0];
      if (k && isObj(p.content[k])) return p.content[k].schema || {};
    }
    return {};
  }

  function paramExample(p) {
    if ('example' in p) return p.example;
    if (isObj(p.examples)) {
      for (const k of Object.keys(p.examples)) {
        const e = deref(p.examples[k]);
        if (isObj(e) && 'value' in e) return e.value;
      }
    }
    const v = view(paramSchema(p));
    if (Array.isArray(v.examples) && v.examples.length) return v.examples[0];
    if ('example' in v) return v.example;
    if ('default' in v) return v.default;
    return undefined;
  }

  function paramsView(list) {
    return h('div', { class: 'params' }, list.map((p) => {
      const s = paramSchema(p);
      return h('div', { class: 'param' },
        h('div', null, h('span', { class: 'pname', text: p.name }),
          p.required ? h('span', { class: 'req', title: 'required', text: '*' }) : null,
          h('span', { class: 'pin', text: p.in })),
        h('div', null, typeNode(s), ' ', facets(view(s)), itemFacets(s),
          p.deprecated ? h('span', { class: 'chip bad', text: 'deprecated' }) : null,
          'example' in p ? h('span', { class: 'chip', text: 'example: ' + short(p.example) }) : null,
          md(p.description || view(s).description)));
    }));
  }

  function itemFacets(s) {
    const v = view(s);
    return isObj(v.items) ? facets(view(v.items)).map((c) => { c.textContent = 'each ' + c.textContent; return c; }) : [];
  }

  function mediaView(content, mode) {
    const out = [];
    for (const mt of Object.keys(isObj(content) ? content : {})) {
      const media = content[mt] || {};
      const block = h('div', { class: 'media' }, h('div', { class: 'ctype', text: mt }));
      if (media.schema !== undefined) {
        block.append(schemaView(media.schema));
        const ex = exampleOf(media, media.schema, mode);
        if (ex !== undefined && !/event-stream/.test(mt)) {
          block.append(h('details', null, h('summary', { text: 'Example' }),
            h('pre', null, h('code', { text: JSON.stringify(ex, null, 2) }))));
        }
      }
      out.push(block);
    }
    return out;
  }

  function codeOrder(c) {
    if (c === 'default') return 1000;
    const n = parseInt(String(c).replace(/x/gi, '0'), 10);
    return isNaN(n) ? 999 : n;
  }

  function responsesView(op) {
    const rs = isObj(op.responses) ? op.responses : {};
    const codes = Object.keys(rs).sort((a, b) => codeOrder(a) - codeOrder(b));
    return codes.map((code) => {
      const r = deref(rs[code]) || {};
      const cls = code === 'default' ? 's5' : 's' + String(code)[0];
      const firstLine = String(r.description || '').split('\n')[0];
      const body = h('div', { class: 'body' });
      if (String(r.description || '').indexOf('\n') >= 0) body.append(md(r.description));
      if (isObj(r.headers) && Object.keys(r.headers).length) {
        body.append(h('div', { class: 'ctype', text: 'headers' }),
          paramsView(Object.keys(r.headers).map((n) => Object.assign({ name: n, in: 'header' }, deref(r.headers[n])))));
      }
      add(body, mediaView(r.content, 'res'));
      if (!body.childNodes.length) body.append(h('div', { class: 'note', text: 'No body.' }));
      return h('details', { class: 'resp', open: cls === 's2' },
        h('summary', null, h('span', { class: 'code ' + cls, text: code }), h('span', { text: firstLine })),
        body);
    });
  }

  function opView(o) {
    const op = o.op;
    const sec = h('section', { class: 'op' + (op.deprecated ? ' deprecated' : ''), id: o.id, tabindex: '-1', 'aria-labelledby': o.id + '-h' },
      h('h3', { id: o.id + '-h' }, op.summary || o.path,
        h('a', { class: 'anchor', href: '#' + o.id, 'aria-label': 'Link to this operation', text: '#' })),
      h('div', { class: 'opline' }, h('span', { class: 'm m-' + o.method, text: o.method.toUpperCase() }),
        h('span', { class: 'path', text: o.path }),
        op.deprecated ? h('span', { class: 'chip bad', text: 'deprecated' }) : null),
      md(op.description));
    sec.append(h('h4', { text: 'Security' }), securityView(o));
    if (o.params.length) sec.append(h('h4', { text: 'Parameters' }), paramsView(o.params));
    const rb = deref(op.requestBody);
    if (isObj(rb)) {
      add(sec, [h('h4', null, 'Request body', rb.required ? h('span', { class: 'req', title: 'required', text: '*' }) : null),
        md(rb.description), mediaView(rb.content, 'req')]);
    }
    add(sec, [h('h4', { text: 'Responses' }), responsesView(op)]);
    const tryIt = h('details', { class: 'try' }, h('summary', { text: 'Try it' }));
    let built = false;
    tryIt.addEventListener('toggle', () => {
      if (tryIt.open && !built) { built = true; tryIt.append(tryPanel(o)); }
    });
    sec.append(tryIt);
    o.el = sec;
    return sec;
  }

  // ---------- try it ----------

  function jsonMedia(content) {
    const keys = Object.keys(isObj(content) ? content : {});
    return keys.find((k) => /json/i.test(k)) || keys[0] || null;
  }

  function tryPanel(o) {
    const op = o.op;
    const form = h('div', { class: 'form' });
    const fields = [];
    for (const p of o.params) {
      if (p.in === 'cookie') continue;
      const s = view(paramSchema(p));
      const id = uid('p');
      const isArray = typeList(s).indexOf('array') >= 0;
      const enumv = Array.isArray(s.enum) ? s.enum : typeList(s).indexOf('boolean') >= 0 ? [true, false] : null;
      let input;
      const ex = paramExample(p);
      if (enumv && !isArray) {
        input = h('select', { id: id }, h('option', { value: '', text: '—' }),
          enumv.map((v) => h('option', { value: String(v), text: String(v) })));
        if (ex !== undefined) input.value = String(ex);
      } else {
        const credHint = p.in === 'header' ? credFor(p.name, o.path) : null;
        input = h('input', {
          id: id, type: 'text', spellcheck: 'false', autocomplete: 'off',
          placeholder: isArray ? 'comma-separated' + (isObj(s.items) && Array.isArray(view(s.items).enum) ? ': ' + view(s.items).enum.join(', ') : '') : credHint ? 'from Credentials: ' + CRED_NAMES[credHint] : typeLabel(s),
        });
        if (ex !== undefined && ex !== null) input.value = Array.isArray(ex) ? ex.join(',') : typeof ex === 'object' ? JSON.stringify(ex) : String(ex);
      }
      fields.push({ p: p, input: input, isArray: isArray });
      form.append(h('label', { for: id }, p.name, p.required ? h('span', { class: 'req', text: '*' }) : null,
        h('span', { class: 'pin', text: p.in })), input);
    }
    const rb = deref(op.requestBody);
    let textarea = null;
    let mt = null;
    let initial = '';
    if (isObj(rb) && isObj(rb.content) && ['get', 'head'].indexOf(o.method) < 0) {
      mt = jsonMedia(rb.content);
      const media = rb.content[mt] || {};
      const ex = exampleOf(media, media.schema, 'req');
      initial = ex === undefined ? '' : /json/i.test(mt) ? JSON.stringify(ex, null, 2) : String(ex);
      const id = uid('b');
      textarea = h('textarea', { id: id, spellcheck: 'false', rows: Math.min(18, Math.max(4, initial.split('\n').length + 1)) });
      textarea.value = initial;
      form.append(h('label', { for: id }, 'body', h('span', { class: 'pin', text: mt })), textarea);
    }
    const sends = h('div', { class: 'sends' });
    const update = () => {
      const pl = plan(o);
      sends.textContent = '';
      if (!o.security.length || (!pl.use.length && !pl.missing.length)) { sends.textContent = 'Sends no credentials.'; return; }
      if (pl.use.length) sends.append('Sends ' + pl.use.map((i) => i.where.name + ' (' + CRED_NAMES[i.cred] + ')').join(' and ') + '. ');
      if (pl.missing.length) {
        sends.append(h('span', { class: 'error', text: 'Missing: ' + pl.missing.map((i) => i.where ? CRED_NAMES[i.cred] : i.label).join(', ') + ' (see Credentials).' }));
      }
    };
    update();
    sendsUpdaters.push(update);
    const result = h('div', { class: 'result', 'aria-live': 'polite' });
    const sendBtn = h('button', { type: 'button', class: 'primary', text: 'Send' });
    const cancelBtn = h('button', { type: 'button', class: 'hidden', text: 'Cancel' });
    const resetBtn = textarea ? h('button', { type: 'button', text: 'Reset body', onclick: () => { textarea.value = initial; } }) : null;
    let ctl = null;
    const run = () => {
      if (ctl) return;
      ctl = new AbortController();
      sendBtn.disabled = true;
      cancelBtn.classList.remove('hidden');
      send(o, fields, textarea, mt, result, ctl.signal).finally(() => {
        ctl = null;
        sendBtn.disabled = false;
        cancelBtn.classList.add('hidden');
      });
    };
    sendBtn.addEventListener('click', run);
    cancelBtn.addEventListener('click', () => { if (ctl) ctl.abort(); });
    const panel = h('div', { class: 'trypanel' }, form, sends,
      h('div', { class: 'actions' }, sendBtn, cancelBtn, resetBtn, h('span', { class: 'note', text: 'Ctrl+Enter sends' })), result);
    panel.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
    });
    return panel;
  }

  function credFor(headerName, path) {
    const n = String(headerName).toLowerCase();
    if (n === 'queue-token') return 'queue';
    if (n === 'authorization') return /\/admin(\/|$)/.test(path || '') ? 'admin' : 'access';
    return null;
  }

  function baseURL() {
    const srv = Array.isArray(spec.servers) && isObj(spec.servers[0]) ? spec.servers[0] : null;
    let u = srv && typeof srv.url === 'string' ? srv.url : '/';
    if (srv && isObj(srv.variables)) {
      u = u.replace(/\{([^}]+)\}/g, (m, k) => (isObj(srv.variables[k]) && srv.variables[k].default != null ? srv.variables[k].default : m));
    }
    try { return new URL(u, location); } catch (e) { return new URL('/', location); }
  }

  async function send(o, fields, textarea, mt, result, signal) {
    result.textContent = '';
    const fail = (msg) => { result.append(h('p', { class: 'error', text: msg })); };
    let path = o.path;
    const qs = new URLSearchParams();
    const headers = new Headers();
    for (const f of fields) {
      const p = f.p;
      const v = f.input.value.trim();
      if (v === '') {
        if (p.in === 'path') return fail('Path parameter “' + p.name + '” is required.');
        continue;
      }
      if (p.in === 'path') path = path.split('{' + p.name + '}').join(encodeURIComponent(v));
      else if (p.in === 'query') {
        if (f.isArray) {
          const parts = v.split(',').map((x) => x.trim()).filter(Boolean);
          if (p.explode === false) qs.append(p.name, parts.join(','));
          else parts.forEach((x) => qs.append(p.name, x));
        } else qs.append(p.name, v);
      } else if (p.in === 'header') {
        try { headers.set(p.name, v); } catch (e) { return fail('Header “' + p.name + '”: ' + e.message); }
      }
    }
    for (const f of fields) {
      if (f.p.in === 'header' && !headers.has(f.p.name)) {
        const c = credFor(f.p.name, o.path);
        if (c && cred(c)) headers.set(f.p.name, (c === 'queue' ? '' : 'Bearer ') + cred(c));
      }
    }
    const pl = plan(o);
    for (const i of pl.use) {
      const v = i.where.prefix + cred(i.cred);
      try {
        if (i.where.in === 'header' && !headers.has(i.where.name)) headers.set(i.where.name, v);
        else if (i.where.in === 'query' && !qs.has(i.where.name)) qs.set(i.where.name, v);
      } catch (e) { return fail('Credential “' + CRED_NAMES[i.cred] + '” cannot be sent: ' + e.message); }
    }
    let body;
    if (textarea && textarea.value.trim()) {
      body = textarea.value;
      if (mt && /json/i.test(mt)) {
        try { JSON.parse(body); } catch (e) { return fail('The body is not valid JSON: ' + e.message); }
      }
      if (mt) headers.set('Content-Type', mt);
    }
    const accept = [];
    for (const code of Object.keys(isObj(o.op.responses) ? o.op.responses : {})) {
      const r = deref(o.op.responses[code]);
      if (isObj(r) && isObj(r.content)) Object.keys(r.content).forEach((k) => { if (accept.indexOf(k) < 0) accept.push(k); });
    }
    if (!headers.has('Accept')) headers.set('Accept', accept.length ? accept.join(', ') : '*/*');
    const base = baseURL();
    const url = new URL(base.pathname.replace(/\/+$/, '') + path, base);
    url.search = qs.toString();
    const method = o.method.toUpperCase();
    result.append(h('details', { class: 'sent' }, h('summary', { text: method + ' ' + url.pathname + url.search }),
      h('pre', null, h('code', { text: curl(method, url, headers, body) }))));
    const t0 = performance.now();
    let res;
    try {
      res = await fetch(url, { method: method, headers: headers, body: body, signal: signal, credentials: 'same-origin', cache: 'no-store' });
    } catch (e) {
      return fail(e.name === 'AbortError' ? 'Cancelled.' : 'Request failed: ' + e.message);
    }
    const ms = Math.round(performance.now() - t0);
    const cls = 's' + String(res.status)[0];
    result.append(h('div', { class: 'statusline ' + cls, text: res.status + ' ' + (res.statusText || '') + ' · ' + ms + ' ms' }));
    const hdrs = [];
    res.headers.forEach((v, k) => hdrs.push(k + ': ' + v));
    result.append(h('details', null, h('summary', { text: 'Response headers (' + hdrs.length + ')' }),
      h('pre', null, h('code', { text: hdrs.join('\n') }))));
    const ct = res.headers.get('content-type') || '';
    const out = h('code');
    result.append(h('pre', { class: 'resbody' }, out));
    try {
      if (/event-stream/i.test(ct) && res.body && res.body.getReader) {
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        out.textContent = '';
        for (;;) {
          const step = await reader.read();
          if (step.done) break;
          out.append(dec.decode(step.value, { stream: true }));
        }
        out.append('\n(stream ended)');
        return;
      }
      const text = await res.text();
      let parsed;
      if (/json/i.test(ct) || /^\s*[{[]/.test(text)) {
        try { parsed = JSON.parse(text); } catch (e) { parsed = undefined; }
      }
      out.textContent = parsed !== undefined ? JSON.stringify(parsed, null, 2) : text || '(empty body)';
      offerTokens(parsed, result);
    } catch (e) {
      out.append('\n' + (e.name === 'AbortError' ? '(cancelled)' : '(read failed: ' + e.message + ')'));
    }
  }

  function offerTokens(v, result) {
    if (!isObj(v)) return;
    const offers = [];
    if (typeof v.accessToken === 'string' && v.accessToken && v.accessToken !== cred('access')) offers.push(['access', v.accessToken, 'accessToken']);
    if (typeof v.token === 'string' && v.token && 'status' in v && v.token !== cred('queue')) offers.push(['queue', v.token, 'token']);
    if (!offers.length) return;
    const bar = h('div', { class: 'actions' });
    for (const [k, val, field] of offers) {
      bar.append(h('button', {
        type: 'button', text: 'Use “' + field + '” as ' + CRED_NAMES[k],
        onclick: (e) => { setCred(k, val); e.target.textContent = 'Saved as ' + CRED_NAMES[k]; },
      }));
    }
    result.append(bar);
  }

  function shq(s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; }

  function curl(method, url, headers, body) {
    const parts = ['curl', '-X', method, shq(url.href)];
    headers.forEach((v, k) => parts.push('\\\n  -H ' + shq(k.replace(/(^|-)([a-z])/g, (m, d, c) => d + c.toUpperCase()) + ': ' + v)));
    if (body !== undefined) parts.push('\\\n  --data ' + shq(body));
    return parts.join(' ');
  }

  // ---------- page ----------

  function render() {
    const info = isObj(spec.info) ? spec.info : {};
    const title = String(info.title || 'API reference');
    document.title = title + ' — API reference';
    $('#brand').textContent = title;
    const main = $('#main');
    main.textContent = '';
    main.append(h('header', { class: 'intro' },
      h('h1', null, title, info.version ? h('span', { class: 'ver', text: 'v' + String(info.version).replace(/^v/, '') }) : null),
      h('div', { class: 'note', text: 'OpenAPI ' + (spec.openapi || '?') + ' · ' }, h('a', { href: SPEC_URL.pathname, text: SPEC_URL.pathname })),
      md(info.description)));
    const schemes = isObj(spec.components) && isObj(spec.components.securitySchemes) ? spec.components.securitySchemes : {};
    if (Object.keys(schemes).length) {
      main.append(h('h4', { text: 'Credentials' }), h('div', { class: 'params' }, Object.keys(schemes).map((k) => {
        const i = scheme(k);
        return h('div', { class: 'param' }, h('div', { class: 'pname', text: k }),
          h('div', null, h('span', { class: 'chip sec', text: i.label }), md(i.desc)));
      })));
    }

    collect();
    const tagOrder = [];
    const tagInfo = {};
    for (const t of Array.isArray(spec.tags) ? spec.tags : []) {
      if (isObj(t) && t.name && !tagInfo[t.name]) { tagOrder.push(String(t.name)); tagInfo[t.name] = t; }
    }
    for (const o of ops) if (tagOrder.indexOf(o.tag) < 0) tagOrder.push(o.tag);
    const toc = $('#toc');
    toc.textContent = '';
    for (const tag of tagOrder) {
      const list = ops.filter((o) => o.tag === tag);
      if (!list.length) continue;
      const ul = h('ul');
      const g = { tag: tag, ops: list, li: h('li', null, h('span', { class: 'tag-name', text: tag }), ul), el: null };
      const gid = 'tag-' + tag.replace(/[^A-Za-z0-9_-]+/g, '-');
      g.el = h('section', { class: 'group', 'aria-labelledby': gid },
        h('h2', { class: 'tag', id: gid, text: tag }), md(tagInfo[tag] && tagInfo[tag].description));
      for (const o of list) {
        o.link = h('a', { href: '#' + o.id, class: o.op.deprecated ? 'deprecated' : null, title: o.method.toUpperCase() + ' ' + o.path },
          h('span', { class: 'm m-' + o.method, text: o.method.toUpperCase() }),
          h('span', { class: 'label', text: o.op.summary || o.path }));
        ul.append(h('li', null, o.link));
        g.el.append(opView(o));
      }
      toc.append(g.li);
      main.append(g.el);
      groups.push(g);
    }
    if (!ops.length) main.append(h('p', { class: 'note', text: 'The document describes no operations.' }));
    main.append(h('p', { id: 'nomatch', class: 'note hidden', text: 'No operation matches the filter.' }));
    const schemas = isObj(spec.components) && isObj(spec.components.schemas) ? spec.components.schemas : {};
    const names = Object.keys(schemas).sort();
    if (names.length) {
      const sec = h('section', { class: 'group', id: 'schemas', 'aria-labelledby': 'schemas-h' }, h('h2', { class: 'tag', id: 'schemas-h', text: 'Schemas' }));
      for (const n of names) {
        const d = h('details', { class: 'resp', id: 'schema-' + n },
          h('summary', null, h('span', { class: 'code', text: n }), h('span', { class: 'type', text: typeLabel(schemas[n]) })));
        let built = false;
        d.addEventListener('toggle', () => {
          if (d.open && !built) { built = true; d.append(h('div', { class: 'body' }, schemaView({ $ref: '#/components/schemas/' + n.replace(/~/g, '~0').replace(/\//g, '~1') }))); }
        });
        sec.append(d);
      }
      toc.append(h('li', { class: 'schemas' }, h('a', { href: '#schemas' }, h('span', { class: 'label', text: 'Schemas' }))));
      main.append(sec);
    }
  }

  function applyFilter() {
    const words = $('#filter').value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const o of ops) {
      const ok = words.every((w) => o.text.indexOf(w) >= 0);
      o.visible = ok;
      if (ok) shown++;
      o.link.parentNode.classList.toggle('hidden', !ok);
      o.el.classList.toggle('hidden', !ok);
    }
    for (const g of groups) {
      const any = g.ops.some((o) => o.visible);
      g.li.classList.toggle('hidden', !any);
      g.el.classList.toggle('hidden', !any);
    }
    const nm = $('#nomatch');
    if (nm) nm.classList.toggle('hidden', shown > 0 || !ops.length);
    document.querySelectorAll('#schemas, #toc .schemas').forEach((n) => n.classList.toggle('hidden', words.length > 0));
  }

  function visibleLinks() {
    return Array.from(document.querySelectorAll('#toc a')).filter((a) => a.offsetParent !== null);
  }

  function go() {
    let id = '';
    try { id = decodeURIComponent(location.hash.slice(1)); } catch (e) { id = location.hash.slice(1); }
    document.querySelectorAll('#toc a[aria-current]').forEach((a) => a.removeAttribute('aria-current'));
    document.querySelectorAll('.op.current').forEach((s) => s.classList.remove('current'));
    if (!id) return;
    const t = document.getElementById(id);
    if (!t || !$('#main').contains(t)) return;
    if (t.classList.contains('hidden')) { $('#filter').value = ''; applyFilter(); }
    if (t.tagName === 'DETAILS') t.open = true;
    if (t.classList.contains('op')) t.classList.add('current');
    const link = Array.from(document.querySelectorAll('#toc a')).find((a) => a.getAttribute('href') === '#' + id);
    if (link) link.setAttribute('aria-current', 'location');
    setNav(false);
    t.scrollIntoView({ block: 'start' });
    if (!t.hasAttribute('tabindex')) t.setAttribute('tabindex', '-1');
    t.focus({ preventScroll: true });
  }

  function setNav(open) {
    document.body.classList.toggle('nav-open', open);
    $('#menu').setAttribute('aria-expanded', String(open));
    $('#menu').textContent = open ? 'Close' : 'Menu';
  }

  function wire() {
    for (const k of Object.keys(CRED_NAMES)) {
      const i = credInput(k);
      if (!i) continue;
      i.value = load(k);
      i.addEventListener('input', () => { save(k, i.value.trim()); sendsUpdaters.forEach((f) => f()); });
    }
    $('#credform').addEventListener('submit', (e) => e.preventDefault());
    const show = $('#showcreds');
    if (show) {
      show.addEventListener('change', () => {
        document.querySelectorAll('[data-cred]').forEach((i) => { i.type = show.checked ? 'text' : 'password'; });
      });
    }
    if (Object.keys(CRED_NAMES).some((k) => !load(k)) && window.matchMedia('(min-width: 821px)').matches) $('#creds').open = true;
    $('#menu').addEventListener('click', () => {
      const open = !document.body.classList.contains('nav-open');
      setNav(open);
      if (open) $('#filter').focus();
    });
    const filter = $('#filter');
    filter.addEventListener('input', applyFilter);
    filter.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { filter.value = ''; applyFilter(); }
      else if (e.key === 'Enter') {
        const first = ops.find((o) => o.visible !== false);
        if (first) { e.preventDefault(); location.hash = '#' + first.id; }
      } else if (e.key === 'ArrowDown') {
        const links = visibleLinks();
        if (links.length) { e.preventDefault(); links[0].focus(); }
      }
    });
    $('#toc').addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
      const links = visibleLinks();
      const i = links.indexOf(document.activeElement);
      if (i < 0) return;
      e.preventDefault();
      if (e.key === 'ArrowDown' && i + 1 < links.length) links[i + 1].focus();
      else if (e.key === 'ArrowUp') (i > 0 ? links[i - 1] : filter).focus();
    });
    $('#toc').addEventListener('click', (e) => {
      const a = e.target.closest('a');
      if (a && a.getAttribute('href') === location.hash) go();
    });
    document.addEventListener('keydown', (e) => {
      const tag = (e.target.tagName || '').toLowerCase();
      const typing = tag === 'input' || tag === 'textarea' || tag === 'select' || e.target.isContentEditable;
      if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        setNav(true);
        filter.focus();
        filter.select();
      } else if (e.key === 'Escape' && document.body.classList.contains('nav-open')) {
        setNav(false);
        $('#menu').focus();
      }
    });
    window.addEventListener('hashchange', go);
  }

  async function start() {
    const status = $('#status');
    try {
      const res = await fetch(SPEC_URL, { headers: { Accept: 'application/json' }, cache: 'no-cache' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      spec = await res.json();
      if (!isObj(spec)) throw new Error('not a JSON object');
    } catch (e) {
      status.textContent = 'Could not load ' + SPEC_URL.pathname + ': ' + e.message + '. ';
      status.append(h('button', { type: 'button', text: 'Retry', onclick: () => location.reload() }));
      return;
    }
    try {
      render();
      applyFilter();
    } catch (e) {
      const main = $('#main');
      main.textContent = '';
      main.append(h('p', { class: 'error', text: 'Could not render the API description: ' + e.message }));
      return;
    }
    go();
  }

  wire();
  start();
}());
