// What every player page shares: the run's parameters from the query string and the CMCD
// configuration they all get (the same keys, events and interval; docs/cmcd-players.md).
/* exported Run */
'use strict';

const Run = (() => {
  const params = new URLSearchParams(location.search);
  const api = params.get('api');
  const key = params.get('key');
  return {
    src: params.get('src'),
    sid: params.get('sid'),
    cid: params.get('cid'),
    // `cmcd=v1`: CMCD v1 on the media requests only (query mode), as a CDN sees it; the
    // CDN-log path of tests/test_cmcd_players_v1.py. Otherwise v2 event mode.
    v1: params.get('cmcd') === 'v1',
    // The write key rides in the URL: a player's event target is a URL only.
    target: `${api}/v1/cmcd?write_key=${encodeURIComponent(key)}`,
    keys: ['e', 'ts', 'sn', 'sid', 'cid', 'v', 'sta', 'msd', 'br', 'pb', 'bl', 'bs', 'bsd',
      'pt', 'ec', 'st', 'sf', 'tb', 'mtp'],
    events: ['ps', 'e', 't', 'bc'],
    intervalS: 5,
  };
})();
