// Ground truth of one playback, recorded in the page from the media element alone, so it
// does not depend on what the player reports: the conformance test compares Marquee's view
// with it (tests/test_cmcd_players.py, docs/cmcd-players.md).
//
// - startup: the play call to the first frame presented in playback
//   (requestVideoFrameCallback, asked for at the first 'playing'); and `play_event_ms`,
//   the play call to the element's first 'play' event, where dash.js and hls.js enter
//   CMCD's starting state (sta=s);
// - played: time in the playing state ('playing' until 'waiting', 'pause' or 'ended');
// - stalls: 'waiting' -> 'playing' after the first frame (before it is startup, not a stall),
//   of at least one frame;
// - bitrate: the declared bitrate of the rendition on screen (by its height), sampled every
//   250 ms while playing, averaged over the samples (played-time weighted);
// - ended: the 'ended' event; `done` is set a few seconds later, once the player's last
//   reports had time to leave.
/* exported Truth */
'use strict';

const FRAME_MS = 1000 / 30;

const Truth = {
  start(video, options) {
    const record = {
      player: options.player,
      version: options.version,
      startup_ms: null,
      play_event_ms: null,
      played_ms: 0,
      stalled_ms: 0,
      stall_count: 0,
      bitrate_samples: [],
      avg_bitrate_kbps: null,
      renditions: [],
      ended: false,
      errors: [],
      done: false,
    };
    window.truth = record;
    let playCalledAt = null;
    let firstFrameAt = null;
    let playingSince = null;
    let stalledSince = null;

    const closePlaying = (now) => {
      if (playingSince !== null) {
        record.played_ms += now - playingSince;
        playingSince = null;
      }
    };
    video.addEventListener('playing', () => {
      const now = performance.now();
      if (playingSince === null) playingSince = now;
      if (stalledSince !== null) {
        // A `waiting` answered within a frame (Chromium fires such pairs at some segment
        // boundaries) skipped no frame: no stall a viewer could see.
        if (now - stalledSince >= FRAME_MS) {
          record.stalled_ms += now - stalledSince;
          record.stall_count += 1;
        }
        stalledSince = null;
      }
    });
    video.addEventListener('waiting', () => {
      const now = performance.now();
      closePlaying(now);
      if (firstFrameAt !== null && stalledSince === null && !video.ended) stalledSince = now;
    });
    video.addEventListener('play', () => {
      if (record.play_event_ms === null) record.play_event_ms = performance.now() - playCalledAt;
    });
    video.addEventListener('pause', () => closePlaying(performance.now()));
    video.addEventListener('error', () => record.errors.push(String(video.error && video.error.message)));
    video.addEventListener('ended', () => {
      closePlaying(performance.now());
      record.ended = true;
      if (record.bitrate_samples.length) {
        const sum = record.bitrate_samples.reduce((a, b) => a + b, 0);
        record.avg_bitrate_kbps = sum / record.bitrate_samples.length;
      }
      setTimeout(() => {
        if (options.onDone) options.onDone();
        setTimeout(() => { record.done = true; }, 1500);
      }, options.settleMs || 1500);
    });
    // The first frame presented in playback: a paused element may paint frame 0 at load,
    // before any play, so the callback is asked for once the element is playing.
    video.addEventListener('playing', () => {
      video.requestVideoFrameCallback((now) => {
        firstFrameAt = now;
        record.startup_ms = now - playCalledAt;
      });
    }, { once: true });
    setInterval(() => {
      if (playingSince === null || video.ended) return;
      const kbps = options.bitrateOfHeight(video.videoHeight);
      if (kbps) {
        record.bitrate_samples.push(kbps);
        const last = record.renditions[record.renditions.length - 1];
        if (!last || last.kbps !== kbps) {
          record.renditions.push({ at_ms: Math.round(video.currentTime * 1000), kbps });
        }
      }
    }, 250);
    return {
      // The viewer's play request: the player is asked to load and play from here on.
      requested() {
        playCalledAt = performance.now();
      },
      play() {
        if (playCalledAt === null) playCalledAt = performance.now();
        return video.play().catch((error) => record.errors.push(String(error)));
      },
    };
  },
};
