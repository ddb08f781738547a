/*
 * The parts of the ThingPark editor dialogs that every node of a kind shares, so that each node's HTML
 * keeps only what is its own:
 * - configNode(type, spec): a connection config node. Its template names the shared blocks it wants
 *   where it wants them, in one placeholder line:
 *     <div data-thingpark-blocks="name credentials:username,password tls insecure:allowInsecure"></div>
 *   (blocks: name, credentials:<user>,<password> or credentials:,<key>, tls, insecure:<property>,
 *   buffer, durability, test). The helper writes those rows into the template before Node-RED builds
 *   the dialog, adds the shared settings (tls, bufferMax, bufferPolicy, durability) with their
 *   validation, gives the node its human name (paletteLabel `<type>.paletteLabel`, which Node-RED also
 *   uses for the dialog title) and the "Test connection" button.
 * - outNode(type, spec): the platform out nodes, one template for all.
 * Node-RED appends a node set's HTML in one piece before running its scripts, so the templates are in
 * the page when a node registers. Loaded after editor.js, which it extends.
 */
(function () {
  'use strict';
  var TP = window.ThingParkEditor;
  if (!TP || TP.configNode) return;

  function label(id, icon, key) {
    return (
      '<label for="' +
      id +
      '">' +
      (icon ? '<i class="fa fa-' + icon + '"></i> ' : '') +
      '<span data-i18n="' +
      key +
      '"></span></label>'
    );
  }

  function row(content, extra) {
    return '<div class="form-row' + (extra ? ' ' + extra : '') + '">' + content + '</div>';
  }

  function input(id, type, attrs) {
    return '<input type="' + type + '" id="' + id + '"' + (attrs || '') + ' />';
  }

  function select(id, options) {
    return (
      '<select id="' +
      id +
      '" style="width:70%">' +
      options
        .map(function (o) {
          return '<option value="' + o[0] + '" data-i18n="' + o[1] + '"></option>';
        })
        .join('') +
      '</select>'
    );
  }

  /** The rows of one shared block of a config node of `type`; `arg` is what follows ':' in the template. */
  var BLOCKS = {
    name: function () {
      var id = 'node-config-input-name';
      var placeholder = ' data-i18n="[placeholder]node-red:common.label.name"';
      return row(label(id, 'tag', 'node-red:common.label.name') + input(id, 'text', placeholder));
    },
    credentials: function (type, arg) {
      var names = (arg || 'username,password').split(',');
      var html = '';
      if (names[0]) {
        var user = 'node-config-input-' + names[0];
        html += row(label(user, 'user', type + '.label.' + names[0]) + input(user, 'text'));
      }
      var secret = 'node-config-input-' + names[1];
      var icon = names[1] === 'password' ? 'lock' : 'key';
      return html + row(label(secret, icon, type + '.label.' + names[1]) + input(secret, 'password'));
    },
    tls: function (type) {
      var id = 'node-config-input-tls';
      return row(label(id, 'shield', type + '.label.tls') + input(id, 'text'));
    },
    insecure: function (type, property) {
      var id = 'node-config-input-' + property;
      return row(
        '<label>&nbsp;</label>' +
          input(id, 'checkbox', ' style="width:auto;margin:0"') +
          '<label for="' +
          id +
          '" style="width:auto" data-i18n="' +
          type +
          '.label.' +
          property +
          '"></label>',
      );
    },
    buffer: function () {
      var max = 'node-config-input-bufferMax';
      var policy = 'node-config-input-bufferPolicy';
      return (
        row(
          label(max, 'database', 'thingpark-common.label.bufferMax') +
            input(max, 'text', ' style="width:100px"') +
            ' <span data-i18n="thingpark-common.label.messages"></span>',
        ) +
        row(
          label(policy, 'random', 'thingpark-common.label.bufferPolicy') +
            select(policy, [
              ['drop-oldest', 'thingpark-common.label.dropOldest'],
              ['reject', 'thingpark-common.label.reject'],
            ]),
        )
      );
    },
    durability: function () {
      var id = 'node-config-input-durability';
      return row(
        label(id, 'hdd-o', 'thingpark-common.label.durability') +
          select(id, [
            ['process', 'thingpark-common.durability.process'],
            ['power', 'thingpark-common.durability.power'],
          ]),
      );
    },
    test: function () {
      return '<div class="form-row" id="node-config-thingpark-test"></div>';
    },
  };

  /** Settings every connection with a durable queue has, with their validation. */
  function queueDefaults() {
    return {
      bufferMax: { value: 100000, validate: TP.validators.integer(1, undefined, true) },
      bufferPolicy: { value: 'drop-oldest' },
      durability: { value: 'process' },
    };
  }

  /** Writes the shared blocks into the template of `type` (once). */
  function expandTemplate(type) {
    var template = $('script[data-template-name="' + type + '"]');
    if (!template.length || template.attr('data-thingpark-expanded')) return template.length > 0;
    var html = template.html().replace(/<div data-thingpark-blocks="([^"]*)"><\/div>/g, function (all, list) {
      return list
        .split(/\s+/)
        .filter(Boolean)
        .map(function (block) {
          var parts = block.split(':');
          var render = BLOCKS[parts[0]];
          if (!render) throw new Error(type + ': no editor block "' + parts[0] + '"');
          return render(type, parts[1]);
        })
        .join('\n');
    });
    template.text(html).attr('data-thingpark-expanded', 'true');
    return true;
  }

  /**
   * Registers a connection config node. `spec`: Node-RED's definition for what is the node's own
   * (defaults, credentials, label, oneditprepare), plus `queue` (it has a durable queue: buffer and
   * durability settings) and `test` ({path, fields, credentials} of its "Test connection").
   */
  function configNode(type, spec) {
    var defaults = $.extend({ name: { value: '' } }, spec.defaults, {
      tls: { type: 'tls-config', required: false },
    });
    if (spec.queue) $.extend(defaults, queueDefaults());
    var own = spec.oneditprepare;
    var definition = $.extend({}, spec, {
      category: 'config',
      defaults: defaults,
      paletteLabel: function () {
        return typeof this._ === 'function' ? this._(type + '.paletteLabel') : type;
      },
      oneditprepare: function () {
        if (own) own.call(this);
        if (spec.test) TP.connectionTest(this, spec.test);
      },
    });
    delete definition.queue;
    delete definition.test;
    // Node-RED appends a node set's templates before it runs its scripts; if not, at the next turn.
    if (!expandTemplate(type)) window.setTimeout(expandTemplate, 0, type);
    window.RED.nodes.registerType(type, definition);
  }

  /**
   * Registers a platform out node: its connection (`config`: the property, also the config node's
   * `thingpark-<config>` type), the document types it may forward (`types`, default all) and those
   * it forwards when none is chosen (`chosen`, default all it may). Texts: `<type>.label.<config>`, `.label.types`, `.label.stats`.
   */
  function outNode(type, spec) {
    var types = spec.types || TP.DOCUMENT_TYPES;
    var chosen = spec.chosen || types;
    var defaults = { name: { value: '' }, types: { value: chosen.slice() } };
    defaults[spec.config] = { value: '', type: 'thingpark-' + spec.config, required: true };
    var template = [
      row(
        label('node-input-' + spec.config, 'globe', type + '.label.' + spec.config) +
          input('node-input-' + spec.config, 'text'),
      ),
      row(
        label('', 'filter', type + '.label.types').replace(' for=""', '') +
          '<div id="node-input-types-list" style="display:inline-block;width:70%;vertical-align:top"></div>',
      ),
      BLOCKS.name().replace(/node-config-input-/g, 'node-input-'),
    ].join('\n');
    $('<script type="text/html">').attr('data-template-name', type).text(template).appendTo('body');
    var name = spec.config + ' out';
    window.RED.nodes.registerType(type, {
      category: 'ThingPark',
      color: '#A6D8EE',
      defaults: defaults,
      inputs: 1,
      outputs: 1,
      icon: spec.config + '.svg',
      align: 'right',
      paletteLabel: name,
      label: function () {
        return this.name || name;
      },
      outputLabels: function () {
        return this._(type + '.label.stats');
      },
      oneditprepare: function () {
        TP.typeChecklist(
          $('#node-input-types-list'),
          types,
          Array.isArray(this.types) ? this.types : chosen,
        );
      },
      oneditsave: function () {
        this.types = TP.checkedTypes($('#node-input-types-list'));
      },
    });
  }

  /** What ThingPark sends, in the order the out nodes list it. */
  TP.DOCUMENT_TYPES = [
    'DevEUI_uplink',
    'DevEUI_location',
    'DevEUI_notification',
    'DevEUI_downlink_Sent',
    'DevEUI_downlink_Rejected',
    'DevEUI_alarm',
    'BS_alarm',
  ];
  TP.configNode = configNode;
  TP.outNode = outNode;
})();
