/*
 * "Create in ThingPark" in the thingpark-network dialog (issue 18): with a deployed thingpark-account
 * chosen, it creates the matching connection in ThingPark (Basic HTTPS: an application server whose
 * destination is this Node-RED's `uplink in`, content type jsontyped, a fresh random AS key, our max time
 * deviation; IoT Flow: an actility-mqtt-iot connection with our broker and topics), fills the dialog from
 * the answer, then attaches chosen devices to it. Every request that writes is shown before it is sent.
 * The runtime side is POST /thingpark/account/call (nodes/account/admin-api.ts), which uses the
 * account's stored credentials. Served at resources/@thingpark-edge/node-red-connectors/thingpark-api-editor.js.
 */
(function () {
  'use strict';
  if (window.ThingParkApiEditor) return;

  var OSS = '/thingpark/wireless/rest/subscriptions/mine';
  var DX = '/thingpark/dx/core/latest/api/connections';

  function t(node, key, vars) {
    return node && typeof node._ === 'function' ? node._(key, vars) : key;
  }

  /** An element of the newest tray: a tray closing at the same time may still hold the same ids. */
  function newest(id) {
    return $('[id="' + id + '"]').last();
  }

  function field(name) {
    return newest('node-config-input-' + name);
  }

  /** 32 random hex digits, made here: the key reaches the runtime only inside what the user sends. */
  function randomKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ('0' + b.toString(16)).slice(-2);
      })
      .join('')
      .toUpperCase();
  }

  function accounts() {
    var list = [];
    window.RED.nodes.eachConfig(function (n) {
      if (n.type === 'thingpark-account') list.push(n);
    });
    return list;
  }

  function accountLabel(account) {
    return account.name || 'ThingPark account ' + String(account.url || '').replace(/^https?:\/\//, '');
  }

  /** The public URL of this connection's `uplink in` as the editor knows it: this host, httpNodeRoot, path. */
  function publicUrl(node) {
    var path = '/thingpark/uplink';
    window.RED.nodes.eachNode(function (n) {
      if (n.type === 'thingpark-uplink-in' && n.network === node.id && n.path) path = n.path;
    });
    if (path[0] !== '/') path = '/' + path;
    var root = String(window.RED.settings.httpNodeRoot || '/').replace(/\/$/, '');
    return window.location.protocol + '//' + window.location.host + root + path;
  }

  function call(body) {
    return $.ajax({
      url: 'thingpark/account/call',
      type: 'POST',
      contentType: 'application/json',
      dataType: 'json',
      timeout: 60000,
      data: JSON.stringify(body),
    }).then(
      function (answer) {
        return answer;
      },
      function (xhr) {
        var answer = xhr.responseJSON;
        // Refused by this Node-RED (not deployed, not allowed), not by ThingPark.
        return {
          ok: false,
          local: true,
          message: answer && answer.message ? answer.message : 'HTTP ' + xhr.status,
        };
      },
    );
  }

  /** What will be sent, as the user reads it: method, full URL, JSON body (a password shown as ••••). */
  function describe(baseUrl, request) {
    var body = request.body === undefined ? '' : '\n' + JSON.stringify(request.body, maskPassword, 2);
    return request.method + ' ' + String(baseUrl).replace(/\/+$/, '') + request.path + body;
  }

  function maskPassword(key, value) {
    return key === 'password' && value ? '••••' : value;
  }

  function connectionRequest(node, options) {
    if (field('mode').val() === 'mqtt') {
      var uplink = String(field('uplinkTopic').val() || 'mqtt/things/{DevEUI}/uplink');
      return {
        operation: 'createIotFlowConnection',
        method: 'POST',
        path: DX,
        body: {
          connectorId: 'actility-mqtt-iot',
          name: options.name,
          configuration: {
            uplinkTopicPattern: /[+#]/.test(uplink) ? 'mqtt/things/{DevEUI}/uplink' : uplink,
            downlinkTopicPattern: String(field('downlinkTopic').val() || 'mqtt/things/{DevEUI}/downlink'),
            hostName: String(field('broker').val() || ''),
            protocol: String(field('protocol').val() || 'ssl').toUpperCase(),
            username: String(field('username').val() || ''),
            password: String(field('password').val() || ''),
          },
        },
      };
    }
    var deviation = parseInt(field('maxTimeDeviation').val(), 10);
    return {
      operation: 'createHttpConnection',
      method: 'POST',
      path: OSS + '/appServers',
      body: {
        contentType: 'jsontyped',
        destinations: [{ addresses: [options.url], ports: '*', strategy: 'SEQUENTIAL' }],
        downlinkSecurity: {
          downlinkAsKey: options.asKey,
          maxTimestampDeviation: isNaN(deviation) ? 120 : deviation,
          status: 'DOWNLINK_AS_KEY',
        },
        name: options.name,
      },
    };
  }

  /** Why a call did not succeed: ThingPark's refusal, or this Node-RED's. */
  function failure(node, answer) {
    var key =
      answer && answer.local ? 'thingpark-common.oneclick.not-sent' : 'thingpark-common.oneclick.failed';
    return t(node, key, { message: answer ? answer.message : '' });
  }

  function row(parent) {
    return $('<div class="form-row">').appendTo(parent);
  }

  function say(target, state, text) {
    var colour = { ok: '#3a9a3a', fail: '#c0392b', busy: '' }[state];
    target.attr('data-state', state).css('color', colour).text(text);
  }

  /**
   * Fills `#node-config-thingpark-oneclick` of the thingpark-network dialog. `node` is the node being
   * edited (its `_` translates with the node's catalog, which holds the thingpark-common texts).
   */
  function oneClick(node) {
    var box = newest('node-config-thingpark-oneclick').empty();
    var head = row(box);
    $('<label for="node-config-thingpark-oneclick-account">')
      .append(
        $('<i class="fa fa-cloud-upload">'),
        ' ',
        $('<span>').text(t(node, 'thingpark-common.oneclick.account')),
      )
      .appendTo(head);
    var select = $('<select id="node-config-thingpark-oneclick-account">').css('width', '45%').appendTo(head);
    accounts().forEach(function (a) {
      select.append($('<option>').val(a.id).text(accountLabel(a)));
    });
    var start = $('<button type="button" class="red-ui-button thingpark-oneclick-create">')
      .css('margin-left', '6px')
      .text(t(node, 'thingpark-common.oneclick.create'))
      .appendTo(head);
    var panel = $('<div class="thingpark-oneclick-panel">').hide().appendTo(box);
    if (!select.children().length) {
      start.prop('disabled', true);
      $('<div class="form-tips">').text(t(node, 'thingpark-common.oneclick.no-account')).appendTo(box);
    }

    start.on('click', function () {
      var account = window.RED.nodes.node(select.val());
      if (!account) return;
      var asKey = randomKey();
      panel.empty().show();
      var nameRow = row(panel);
      $('<label>').text(t(node, 'thingpark-common.oneclick.name')).appendTo(nameRow);
      var name = $('<input type="text" class="thingpark-oneclick-name">')
        .val(field('name').val() || 'Node-RED ' + window.location.hostname)
        .appendTo(nameRow);
      var url;
      if (field('mode').val() !== 'mqtt') {
        var urlRow = row(panel);
        $('<label>').text(t(node, 'thingpark-common.oneclick.url')).appendTo(urlRow);
        url = $('<input type="text" class="thingpark-oneclick-url">').val(publicUrl(node)).appendTo(urlRow);
      }
      $('<div class="form-tips">').text(t(node, 'thingpark-common.oneclick.review')).appendTo(panel);
      var preview = $('<pre class="thingpark-oneclick-preview">')
        .css({ maxHeight: '260px', overflow: 'auto', whiteSpace: 'pre-wrap', fontSize: '11px' })
        .appendTo(panel);
      var actions = row(panel);
      var send = $('<button type="button" class="red-ui-button primary thingpark-oneclick-send">')
        .text(t(node, 'thingpark-common.oneclick.send'))
        .appendTo(actions);
      var cancel = $('<button type="button" class="red-ui-button">')
        .css('margin-left', '6px')
        .text(t(node, 'thingpark-common.oneclick.cancel'))
        .appendTo(actions);
      var result = $('<div class="thingpark-oneclick-result">').appendTo(panel);

      var request;
      function refresh() {
        request = connectionRequest(node, {
          name: String(name.val()),
          url: url ? String(url.val()) : '',
          asKey: asKey,
        });
        preview.text(describe(account.url, request));
      }
      name.on('input', refresh);
      if (url) url.on('input', refresh);
      refresh();
      cancel.on('click', function () {
        panel.empty().hide();
      });

      send.on('click', function () {
        send.prop('disabled', true);
        say(result, 'busy', t(node, 'thingpark-common.oneclick.sending'));
        call({
          account: account.id,
          network: node.id,
          operation: request.operation,
          payload: request.body,
        }).then(function (answer) {
          if (!answer.ok) {
            send.prop('disabled', false);
            return say(result, 'fail', failure(node, answer));
          }
          name.prop('disabled', true);
          if (url) url.prop('disabled', true);
          send.remove();
          cancel.remove();
          if (request.operation === 'createHttpConnection') {
            field('asId').val(answer.asId).trigger('change');
            field('asKey').val(asKey).trigger('change');
            // Shown once, here: from now on it is a credential of this connection.
            preview.text(t(node, 'thingpark-common.oneclick.key-once', { key: asKey }));
          } else {
            preview.remove();
          }
          say(
            result,
            'ok',
            t(node, 'thingpark-common.oneclick.created', { id: answer.asId || answer.location || '' }),
          );
          if (answer.asId) devicePicker(node, account, answer.asId, panel);
        });
      });
    });
  }

  /** Lists the account's devices; the chosen ones get this connection added to their application servers. */
  function devicePicker(node, account, asId, panel) {
    var box = $('<div class="thingpark-oneclick-devices">').appendTo(panel);
    $('<div class="form-tips">').text(t(node, 'thingpark-common.oneclick.pick')).appendTo(box);
    var list = $('<div class="thingpark-oneclick-device-list">')
      .css({ maxHeight: '180px', overflow: 'auto', border: '1px solid #ccc', padding: '4px' })
      .appendTo(box);
    var more = $('<button type="button" class="red-ui-button">')
      .text(t(node, 'thingpark-common.oneclick.more'))
      .hide();
    var attach = $('<button type="button" class="red-ui-button thingpark-oneclick-attach">').text(
      t(node, 'thingpark-common.oneclick.attach'),
    );
    row(box).append(more, ' ', attach);
    var preview = $('<pre class="thingpark-oneclick-attach-preview">')
      .css({ maxHeight: '200px', overflow: 'auto', whiteSpace: 'pre-wrap', fontSize: '11px' })
      .hide()
      .appendTo(box);
    var confirm = $('<button type="button" class="red-ui-button primary thingpark-oneclick-attach-send">')
      .text(t(node, 'thingpark-common.oneclick.send'))
      .hide()
      .appendTo(box);
    var result = $('<div class="thingpark-oneclick-attach-result">').appendTo(box);
    var cursor;

    function load() {
      call({
        account: account.id,
        operation: 'listDevices',
        payload: cursor ? { pageAfter: cursor } : {},
      }).then(function (answer) {
        if (!answer.ok) return say(result, 'fail', failure(node, answer));
        (answer.payload || []).forEach(function (d) {
          var id = 'thingpark-oneclick-device-' + d.EUI;
          $('<div>')
            .append(
              $('<input type="checkbox">')
                .attr('id', id)
                .val(d.EUI)
                .css({ width: 'auto', margin: '0 6px 0 0' }),
              $('<label>')
                .attr('for', id)
                .css({ width: 'auto', display: 'inline', margin: 0 })
                .text(d.EUI + (d.name ? '  ' + d.name : '')),
            )
            .appendTo(list);
        });
        cursor = answer.more ? answer.cursor : undefined;
        more.toggle(!!cursor);
      });
    }
    more.on('click', load);
    load();

    var updates = [];
    attach.on('click', function () {
      var chosen = list
        .find('input:checked')
        .map(function () {
          return this.value;
        })
        .get();
      if (!chosen.length) return;
      say(result, 'busy', t(node, 'thingpark-common.oneclick.reading'));
      // Each device keeps the application servers it has: read them first, then show the updates.
      $.when
        .apply(
          $,
          chosen.map(function (eui) {
            return call({ account: account.id, operation: 'getDevice', devEUI: eui });
          }),
        )
        .then(function () {
          var answers = chosen.length === 1 ? [arguments[0]] : Array.prototype.slice.call(arguments);
          updates = [];
          for (var i = 0; i < chosen.length; i++) {
            var answer = answers[i];
            if (!answer || !answer.ok) return say(result, 'fail', failure(node, answer));
            var servers = (answer.payload.appServers || []).filter(function (a) {
              return a.ID !== asId;
            });
            updates.push({ eui: chosen[i], body: { appServers: servers.concat([{ ID: asId }]) } });
          }
          preview
            .text(
              updates
                .map(function (u) {
                  return describe(account.url, {
                    method: 'PUT',
                    path: OSS + '/devices/e' + u.eui,
                    body: u.body,
                  });
                })
                .join('\n\n'),
            )
            .show();
          confirm.show();
          say(result, 'busy', t(node, 'thingpark-common.oneclick.review'));
        });
    });

    confirm.on('click', function () {
      confirm.prop('disabled', true);
      var done = 0;
      var failures = [];
      var next = function () {
        if (done === updates.length) {
          confirm.prop('disabled', false).hide();
          if (failures.length)
            return say(
              result,
              'fail',
              t(node, 'thingpark-common.oneclick.failed', { message: failures.join('; ') }),
            );
          return say(result, 'ok', t(node, 'thingpark-common.oneclick.attached', { count: updates.length }));
        }
        var u = updates[done++];
        call({ account: account.id, operation: 'updateDevice', devEUI: u.eui, payload: u.body }).then(
          function (answer) {
            if (!answer.ok) failures.push(u.eui + ': ' + answer.message);
            next();
          },
        );
      };
      next();
    });
  }

  window.ThingParkApiEditor = { oneClick: oneClick };
})();
