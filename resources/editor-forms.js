/*
 * The parts of the ThingPark edit dialogs that nodes share, so that each node's HTML keeps only what
 * is its own:
 * - Rows written in one line in a template, expanded before Node-RED builds the dialog:
 *     <div data-thingpark-blocks="name credentials:username,password tls checkbox:insecure"></div>
 *       shared blocks: name, credentials:<user>,<secret> (credentials:,<key> for a key alone), tls,
 *       checkbox:<property>, buffer, durability, test (the "Test connection" row);
 *     <div data-thingpark-field="hostName server" data-placeholder="mqtt.example.com:8883"></div>
 *       one labelled text field: `<name> <icon> [password]`; data-placeholder (text, or `i18n` for
 *       `<type>.placeholder.<name>`), data-width (px), data-unit (`<type>.label.<unit>`, or `=text`),
 *       data-class (classes of the row). Labels are `<type>.label.<name>`.
 * - configNode(type, spec): a connection config node: the shared settings (name, tls, and for a
 *   connection with a queue bufferMax, bufferPolicy, durability) with their validation, its human
 *   name (paletteLabel `<type>.paletteLabel`, which Node-RED also shows as the dialog title) and its
 *   "Test connection".
 * - flowNode(type, spec): a flow node of the ThingPark palette; outNode(type, spec): the three
 *   platform out nodes, one template for all.
 * Node-RED appends a node set's HTML in one piece, then runs its inline scripts, so a node's template
 * is in the page when it registers. Loaded with editor.js, in either order.
 */
(function () {
  'use strict';
  var TP = (window.ThingParkEditor = window.ThingParkEditor || {});
  if (TP.configNode) return;

  function label(id, icon, key) {
    var target = id ? ' for="' + id + '"' : '';
    var sign = icon ? '<i class="fa fa-' + icon + '"></i> ' : '';
    return '<label' + target + '>' + sign + '<span data-i18n="' + key + '"></span></label>';
  }

  function row(content, extra) {
    return '<div class="form-row' + (extra ? ' ' + extra : '') + '">' + content + '</div>';
  }

  function input(id, type, attrs) {
    return '<input type="' + type + '" id="' + id + '"' + (attrs || '') + ' />';
  }

  function select(id, options) {
    var items = options.map(function (o) {
      return '<option value="' + o[0] + '" data-i18n="' + o[1] + '"></option>';
    });
    return '<select id="' + id + '" style="width:70%">' + items.join('') + '</select>';
  }

  /** The rows of one shared block; `arg` is what follows ':' in the template, `prefix` the input id prefix. */
  var BLOCKS = {
    name: function (type, arg, prefix) {
      var id = prefix + 'name';
      var placeholder = ' data-i18n="[placeholder]node-red:common.label.name"';
      return row(label(id, 'tag', 'node-red:common.label.name') + input(id, 'text', placeholder));
    },
    credentials: function (type, arg, prefix) {
      var names = (arg || 'username,password').split(',');
      var user = prefix + names[0];
      var secret = prefix + names[1];
      var icon = names[1] === 'password' ? 'lock' : 'key';
      var html = names[0] ? row(label(user, 'user', type + '.label.' + names[0]) + input(user, 'text')) : '';
      return html + row(label(secret, icon, type + '.label.' + names[1]) + input(secret, 'password'));
    },
    tls: function (type, arg, prefix) {
      return row(label(prefix + 'tls', 'shield', type + '.label.tls') + input(prefix + 'tls', 'text'));
    },
    checkbox: function (type, property, prefix) {
      var id = prefix + property;
      var box = input(id, 'checkbox', ' style="width:auto;margin:0"');
      var text =
        '<label for="' + id + '" style="width:auto" data-i18n="' + type + '.label.' + property + '"></label>';
      return row('<label>&nbsp;</label>' + box + text);
    },
    buffer: function (type, arg, prefix) {
      var max = prefix + 'bufferMax';
      var policy = prefix + 'bufferPolicy';
      var unit = ' <span data-i18n="thingpark-common.label.messages"></span>';
      var choices = [
        ['drop-oldest', 'thingpark-common.label.dropOldest'],
        ['reject', 'thingpark-common.label.reject'],
      ];
      return (
        row(
          label(max, 'database', 'thingpark-common.label.bufferMax') +
            input(max, 'text', ' style="width:100px"') +
            unit,
        ) + row(label(policy, 'random', 'thingpark-common.label.bufferPolicy') + select(policy, choices))
      );
    },
    durability: function (type, arg, prefix) {
      var id = prefix + 'durability';
      var choices = [
        ['process', 'thingpark-common.durability.process'],
        ['power', 'thingpark-common.durability.power'],
      ];
      return row(label(id, 'hdd-o', 'thingpark-common.label.durability') + select(id, choices));
    },
    test: function () {
      return '<div class="form-row" id="node-config-thingpark-test"></div>';
    },
  };

  /** One labelled text field from its one-line form (see the top of this file). */
  function field(type, prefix, element) {
    var parts = element.attr('data-thingpark-field').split(/\s+/);
    var id = prefix + parts[0];
    var attrs = '';
    var placeholder = element.attr('data-placeholder');
    if (placeholder === 'i18n')
      attrs += ' data-i18n="[placeholder]' + type + '.placeholder.' + parts[0] + '"';
    else if (placeholder) attrs += ' placeholder="' + placeholder + '"';
    if (element.attr('data-width')) attrs += ' style="width:' + element.attr('data-width') + 'px"';
    var unit = element.attr('data-unit') || '';
    if (unit[0] === '=') unit = ' ' + $('<span>').text(unit.slice(1)).html();
    else if (unit) unit = ' <span data-i18n="' + type + '.label.' + unit + '"></span>';
    var content =
      label(id, parts[1], type + '.label.' + parts[0]) + input(id, parts[2] || 'text', attrs) + unit;
    return row(content, element.attr('data-class'));
  }

  /** Writes the shared rows and one-line fields into the template of `type` (once). */
  function expandTemplate(type, prefix) {
    var template = $('script[data-template-name="' + type + '"]');
    if (!template.length || template.attr('data-thingpark-expanded')) return template.length > 0;
    var html = template
      .html()
      .replace(/<div data-thingpark-blocks="([^"]*)"><\/div>/g, function (all, list) {
        return list
          .split(/\s+/)
          .filter(Boolean)
          .map(function (block) {
            var parts = block.split(':');
            if (!BLOCKS[parts[0]]) throw new Error(type + ': no editor block "' + parts[0] + '"');
            return BLOCKS[parts[0]](type, parts[1], prefix);
          })
          .join('\n');
      })
      .replace(/<div data-thingpark-field="[^"]*"[^>]*><\/div>/g, function (all) {
        return field(type, prefix, $(all));
      });
    template.text(html).attr('data-thingpark-expanded', 'true');
    return true;
  }

  /**
   * Prepares a node's template and returns its definition; the node's .html registers it itself
   * (`RED.nodes.registerType('<type>', { category: …, ...TP.configNode(…) })`), so that tools reading
   * the .html, such as Node-RED's scorecard, find each registration and its category.
   */
  function register(type, definition, prefix) {
    // Node-RED appends a node set's templates before it runs its scripts; if not, at the next turn.
    if (!expandTemplate(type, prefix)) window.setTimeout(expandTemplate, 0, type, prefix);
    return definition;
  }

  /**
   * The definition of a connection config node. `spec`: Node-RED's definition of what is the node's own
   * (defaults, credentials, label, oneditprepare), plus `queue` (it has a durable queue: buffer and
   * durability settings) and `test` ({path, fields, credentials} of its "Test connection").
   */
  function configNode(type, spec) {
    var defaults = $.extend({ name: { value: '' } }, spec.defaults, {
      tls: { type: 'tls-config', required: false },
    });
    if (spec.queue) {
      defaults.bufferMax = { value: 100000, validate: TP.validators.integer(1, undefined, true) };
      defaults.bufferPolicy = { value: 'drop-oldest' };
      defaults.durability = { value: 'process' };
    }
    var definition = $.extend({}, spec, {
      category: 'config',
      defaults: defaults,
      paletteLabel: function () {
        return typeof this._ === 'function' ? this._(type + '.paletteLabel') : type;
      },
      oneditprepare: function () {
        if (spec.oneditprepare) spec.oneditprepare.call(this);
        if (spec.test) TP.connectionTest(this, spec.test);
      },
    });
    delete definition.queue;
    delete definition.test;
    return register(type, definition, 'node-config-input-');
  }

  /**
   * The definition of a flow node of the ThingPark palette: `palette` is its short name (palette label, and
   * its label when it has no name); its output's label is `<type>.label.output`, and with
   * `inputLabel` its input's `<type>.label.input`.
   */
  function flowNode(type, spec) {
    var definition = $.extend(
      {
        category: 'ThingPark',
        color: '#7FCCE5',
        paletteLabel: spec.palette,
        label: function () {
          return this.name || spec.palette;
        },
      },
      spec,
    );
    definition.defaults = $.extend({ name: { value: '' } }, spec.defaults);
    if (spec.outputs)
      definition.outputLabels =
        definition.outputLabels ||
        function () {
          return this._(type + '.label.output');
        };
    if (spec.inputLabel)
      definition.inputLabels = function () {
        return this._(type + '.label.input');
      };
    delete definition.palette;
    delete definition.inputLabel;
    return register(type, definition, 'node-input-');
  }

  /**
   * The definition of a platform out node: its connection (`config`: the property, also the config node's
   * `thingpark-<config>` type), the document types it may forward (`types`, default all) and those
   * it forwards when none is chosen (`chosen`, default all it may).
   * Texts: `<type>.label.<config>`, `.label.types`, `.label.stats`.
   */
  function outNode(type, spec) {
    var types = spec.types || TP.DOCUMENT_TYPES;
    var chosen = spec.chosen || types;
    var list =
      '<div id="node-input-types-list" style="display:inline-block;width:70%;vertical-align:top"></div>';
    var config = 'node-input-' + spec.config;
    var template = [
      row(label(config, 'globe', type + '.label.' + spec.config) + input(config, 'text')),
      row(label('', 'filter', type + '.label.types') + list),
      BLOCKS.name(type, '', 'node-input-'),
    ].join('\n');
    $('<script type="text/html">').attr('data-template-name', type).text(template).appendTo('body');
    var defaults = { types: { value: chosen.slice() } };
    defaults[spec.config] = { value: '', type: 'thingpark-' + spec.config, required: true };
    return flowNode(type, {
      palette: spec.config + ' out',
      color: '#A6D8EE',
      defaults: defaults,
      inputs: 1,
      outputs: 1,
      icon: spec.config + '.svg',
      align: 'right',
      outputLabels: function () {
        return this._(type + '.label.stats');
      },
      oneditprepare: function () {
        TP.typeChecklist($('#node-input-types-list'), types, Array.isArray(this.types) ? this.types : chosen);
      },
      oneditsave: function () {
        this.types = TP.checkedTypes($('#node-input-types-list'));
      },
    });
  }

  /** What ThingPark sends, in the order the out nodes list it. */
  // prettier-ignore
  TP.DOCUMENT_TYPES = ['DevEUI_uplink', 'DevEUI_location', 'DevEUI_notification', 'DevEUI_downlink_Sent', 'DevEUI_downlink_Rejected', 'DevEUI_alarm', 'BS_alarm'];
  TP.configNode = configNode;
  TP.flowNode = flowNode;
  TP.outNode = outNode;
})();
