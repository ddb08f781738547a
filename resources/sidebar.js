/*
 * The "ThingPark" sidebar tab: per connection its state, counters, a plot of the last hour and its
 * dead letters (Resend / Discard for users with the node type's write permission), and the devices
 * seen last. Reads the admin endpoints under /thingpark/ every few seconds while the tab is shown.
 */
(function () {
  'use strict';
  if (window.ThingParkSidebar) return;
  var RED = window.RED;
  var NS = '@thingpark-edge/node-red-connectors/thingpark-sidebar';
  var POLL_MS = 3000;
  var $root;
  var timer;
  var selectedDevice;
  var shownLetters = {};

  function t(key, vars) {
    return RED._(NS + ':sidebar.' + key, vars);
  }

  function api(method, path, body) {
    return $.ajax({
      url: 'thingpark/' + path,
      method: method,
      contentType: body ? 'application/json' : undefined,
      data: body ? JSON.stringify(body) : undefined,
      dataType: 'json',
    });
  }

  function time(value) {
    var d = new Date(value);
    return isNaN(d.getTime()) ? String(value) : d.toLocaleString();
  }

  function canWrite(type) {
    return (
      !RED.user || typeof RED.user.hasPermission !== 'function' || RED.user.hasPermission(type + '.write')
    );
  }

  /** plot.js may run after this file (Node-RED 5 loads a plugin's scripts in no fixed order). */
  function plotter() {
    return window.ThingParkPlot;
  }

  function figure(label, value, cls) {
    return $('<div class="thingpark-figure">')
      .addClass(cls || '')
      .append($('<span class="thingpark-figure-label">').text(label))
      .append($('<span class="thingpark-figure-value">').text(value));
  }

  /** The last hour per minute: the count series, and the gauge series when named. */
  function historyPlot(points, gaugeName, countName) {
    var now = Date.now();
    var series = [
      {
        name: countName,
        cls: 'thingpark-series-count',
        points: points.map(function (p) {
          return { x: p.t, y: p.count };
        }),
      },
    ];
    if (gaugeName)
      series.unshift({
        name: gaugeName,
        cls: 'thingpark-series-gauge',
        points: points.map(function (p) {
          return { x: p.t, y: p.gauge };
        }),
      });
    return plotter().draw(series, {
      xMin: now - 3600000,
      xMax: now,
      xLabel: t('plot.hour'),
      empty: t('plot.empty'),
    });
  }

  function legend(names) {
    var $l = $('<div class="thingpark-legend">');
    names.forEach(function (n) {
      $l.append($('<span>').addClass(n[1]).text(n[0]));
    });
    return $l;
  }

  function stateBadge(state) {
    return $('<span class="thingpark-state">')
      .addClass('thingpark-state-' + state)
      .text(t('state.' + state));
  }

  function renderNetwork(n) {
    var $c = $('<div class="thingpark-card thingpark-network">').attr('data-id', n.id);
    $c.append(
      $('<div class="thingpark-card-head">')
        .append($('<span class="thingpark-card-name">').text(n.name || t('network')))
        .append(stateBadge(n.state)),
    );
    var $f = $('<div class="thingpark-figures">').appendTo($c);
    $f.append(figure(t('figures.uplinks'), n.uplinks, 'thingpark-uplinks'));
    $f.append(figure(t('figures.reconnects'), n.reconnects));
    if (n.lastError) $c.append($('<div class="thingpark-error">').text(n.lastError));
    $c.append(historyPlot(n.history, '', t('plot.uplinks')));
    return $c;
  }

  function renderConnection(c) {
    var $c = $('<div class="thingpark-card thingpark-connection">').attr('data-id', c.id);
    $c.append(
      $('<div class="thingpark-card-head">')
        .append($('<span class="thingpark-card-name">').text(c.name || c.platform))
        .append($('<span class="thingpark-card-platform">').text(c.platform))
        .append(stateBadge(c.state)),
    );
    var $f = $('<div class="thingpark-figures">').appendTo($c);
    $f.append(figure(t('figures.queued'), c.queued, 'thingpark-queued'));
    $f.append(figure(t('figures.delivered'), c.delivered, 'thingpark-delivered'));
    $f.append(figure(t('figures.dropped'), c.dropped, 'thingpark-dropped'));
    $f.append(figure(t('figures.deadLetters'), c.deadLetters, 'thingpark-dead-count'));
    $f.append(figure(t('figures.reconnects'), c.reconnects));
    if (c.lastError) $c.append($('<div class="thingpark-error">').text(c.lastError));
    $c.append(historyPlot(c.history, t('plot.queued'), t('plot.delivered')));
    $c.append(
      legend([
        [t('plot.queued'), 'thingpark-series-gauge'],
        [t('plot.delivered'), 'thingpark-series-count'],
      ]),
    );
    var $dead = $('<div class="thingpark-dead-letters">').appendTo($c);
    if (c.deadLetters > 0) loadDeadLetters(c, $dead);
    return $c;
  }

  function act(c, action, body) {
    var question = t('confirm.' + action + (body.all ? 'All' : ''), { count: body.all ? c.deadLetters : 1 });
    if (!window.confirm(question)) return;
    api('POST', 'monitor/connections/' + encodeURIComponent(c.id) + '/dead-letters/' + action, body).then(
      function (answer) {
        RED.notify(
          t('done.' + action, { count: answer[action === 'resend' ? 'resent' : 'discarded'] }),
          'success',
        );
        refresh();
      },
      function (xhr) {
        var reason =
          xhr.status === 401 || xhr.status === 403 ? t('forbidden') : (xhr.responseJSON || {}).error;
        RED.notify(t('failed', { error: reason || xhr.status }), 'error');
        refresh();
      },
    );
  }

  function loadDeadLetters(c, $box) {
    var allowed = canWrite(c.type);
    if (shownLetters[c.id]) $box.append(shownLetters[c.id]);
    api('GET', 'monitor/connections/' + encodeURIComponent(c.id) + '/dead-letters').then(function (answer) {
      var $list = $('<div>');
      var $head = $('<div class="thingpark-dead-head">').appendTo($list);
      $head.append($('<span>').text(t('deadLetters.title', { count: answer.total })));
      var button = function (label, cls, onClick) {
        return $('<button type="button" class="red-ui-button red-ui-button-small">')
          .addClass(cls)
          .text(label)
          .prop('disabled', !allowed)
          .attr('title', allowed ? '' : t('readOnly'))
          .on('click', onClick);
      };
      $head.append(
        button(t('deadLetters.resendAll'), 'thingpark-resend-all', function () {
          act(c, 'resend', { all: true });
        }),
      );
      $head.append(
        button(t('deadLetters.discardAll'), 'thingpark-discard-all', function () {
          act(c, 'discard', { all: true });
        }),
      );
      var $table = $('<table class="thingpark-dead-table">').appendTo($list);
      $table.append(
        $('<tr>')
          .append($('<th>').text(t('deadLetters.time')))
          .append($('<th>').text(t('deadLetters.device')))
          .append($('<th>').text(t('deadLetters.reason')))
          .append($('<th>')),
      );
      answer.letters.forEach(function (l) {
        $('<tr class="thingpark-dead-letter">')
          .attr('data-seq', l.seq)
          .append($('<td>').text(time(l.at)))
          .append($('<td class="thingpark-dead-device">').text(l.device))
          .append($('<td class="thingpark-dead-reason">').text(l.error))
          .append(
            $('<td class="thingpark-dead-actions">')
              .append(
                button(t('deadLetters.resend'), 'thingpark-resend', function () {
                  act(c, 'resend', { seqs: [l.seq] });
                }),
              )
              .append(
                button(t('deadLetters.discard'), 'thingpark-discard', function () {
                  act(c, 'discard', { seqs: [l.seq] });
                }),
              ),
          )
          .appendTo($table);
      });
      if (!allowed) $list.append($('<div class="thingpark-read-only">').text(t('readOnly')));
      shownLetters[c.id] = $list;
      $box.empty().append($list);
    });
  }

  function renderDevices(answer, $box) {
    $box.empty();
    $box.append($('<div class="thingpark-devices-count">').text(t('devices.count', { count: answer.total })));
    var $table = $('<table class="thingpark-device-table">').appendTo($box);
    $table.append(
      $('<tr>')
        .append($('<th>').text('DevEUI'))
        .append($('<th>').text(t('devices.seen')))
        .append($('<th>').text(t('devices.type')))
        .append($('<th>').text('RSSI / SNR'))
        .append($('<th>').text(t('devices.connectivity'))),
    );
    answer.devices.forEach(function (d) {
      var $row = $('<tr class="thingpark-device">')
        .attr('data-deveui', d.devEUI)
        .append($('<td>').text(d.devEUI))
        .append($('<td>').text(time(d.time)))
        .append($('<td>').text(d.type.replace(/^DevEUI_/, '')))
        .append($('<td>').text((d.rssi === null ? '–' : d.rssi) + ' / ' + (d.snr === null ? '–' : d.snr)))
        .append($('<td>').text(d.connectivity))
        .on('click', function () {
          selectedDevice = selectedDevice === d.devEUI ? undefined : d.devEUI;
          renderDevices(answer, $box);
        })
        .appendTo($table);
      if (selectedDevice === d.devEUI) {
        $row.addClass('selected');
        var plot = plotter().draw(
          [
            {
              name: 'RSSI',
              cls: 'thingpark-series-rssi',
              points: d.uplinks.map(function (u) {
                return { x: u.t, y: u.rssi };
              }),
            },
            {
              name: 'SNR',
              cls: 'thingpark-series-snr',
              points: d.uplinks.map(function (u) {
                return { x: u.t, y: u.snr };
              }),
            },
          ],
          { yZero: false, empty: t('plot.empty') },
        );
        $('<tr class="thingpark-device-plot">')
          .append(
            $('<td colspan="5">')
              .append(plot)
              .append(
                legend([
                  ['RSSI', 'thingpark-series-rssi'],
                  ['SNR', 'thingpark-series-snr'],
                ]),
              ),
          )
          .appendTo($table);
      }
    });
  }

  function refresh() {
    if (!$root || !$root.is(':visible')) return;
    api('GET', 'monitor').then(
      function (answer) {
        var $list = $root.find('.thingpark-connections').empty();
        $root.find('.thingpark-unavailable').hide();
        answer.networks.forEach(function (n) {
          $list.append(renderNetwork(n));
        });
        answer.connections.forEach(function (c) {
          $list.append(renderConnection(c));
        });
        if (answer.networks.length + answer.connections.length === 0)
          $list.append($('<div class="thingpark-empty">').text(t('nothing')));
      },
      function () {
        $root.find('.thingpark-unavailable').show();
      },
    );
    var filter = $root.find('.thingpark-device-filter').val() || '';
    api('GET', 'monitor/devices?filter=' + encodeURIComponent(filter)).then(function (answer) {
      renderDevices(answer, $root.find('.thingpark-devices'));
    });
  }

  function build() {
    $root = $('<div class="thingpark-sidebar">');
    $('<div class="thingpark-unavailable">').text(t('unavailable')).hide().appendTo($root);
    $('<h3>').text(t('connections')).appendTo($root);
    $('<div class="thingpark-connections">').appendTo($root);
    $('<h3>').text(t('devices.title')).appendTo($root);
    $('<input type="text" class="thingpark-device-filter">')
      .attr('placeholder', t('devices.filter'))
      .on('input', refresh)
      .appendTo($root);
    $('<div class="thingpark-devices">').appendTo($root);
    RED.sidebar.addTab({
      id: 'thingpark',
      label: t('label'),
      name: t('title'),
      iconClass: 'fa fa-signal',
      content: $root,
      enableOnEdit: true,
      onchange: refresh,
    });
    timer = window.setInterval(refresh, POLL_MS);
  }

  window.ThingParkSidebar = { refresh: refresh };
  RED.plugins.registerPlugin('thingpark-sidebar', {
    type: 'thingpark-sidebar',
    onadd: build,
    onremove: function () {
      window.clearInterval(timer);
      RED.sidebar.removeTab('thingpark');
    },
  });
})();
