{
 "patcher": {
  "fileversion": 1,
  "appversion": {
   "major": 8,
   "minor": 5,
   "revision": 5,
   "architecture": "x64",
   "modernui": 1
  },
  "classnamespace": "box",
  "rect": [
   100.0,
   100.0,
   720.0,
   420.0
  ],
  "bglocked": 0,
  "openinpresentation": 0,
  "default_fontsize": 12.0,
  "gridsize": [
   15.0,
   15.0
  ],
  "boxes": [
   {
    "box": {
     "id": "c1",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20,
      10,
      480,
      22.0
     ],
     "text": "RAVE engine control: sliders -> OSC -> 127.0.0.1:9000; feedback on 9001"
    }
   },
   {
    "box": {
     "id": "lb",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20,
      40,
      70,
      22.0
     ],
     "text": "loadbang",
     "outlettype": [
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "sub",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      20,
      70,
      160,
      22.0
     ],
     "text": "/engine/subscribe 9001",
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "fl0",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20,
      110,
      50,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "minimum": 0.3,
     "maximum": 2.0,
     "format": 6,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "pre0",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20,
      150,
      150,
      22.0
     ],
     "text": "prepend /rave/energy",
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "fl1",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      190,
      110,
      50,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "minimum": 0.0,
     "maximum": 1.0,
     "format": 6,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "pre1",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      190,
      150,
      150,
      22.0
     ],
     "text": "prepend /rave/chaos",
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "fl2",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      360,
      110,
      50,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "minimum": -60.0,
     "maximum": 12.0,
     "format": 6,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "pre2",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      360,
      150,
      150,
      22.0
     ],
     "text": "prepend /master/gain_db",
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "calm",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      530,
      110,
      140,
      22.0
     ],
     "text": "/scene/recall calm 2",
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "intense",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      530,
      140,
      150,
      22.0
     ],
     "text": "/scene/recall intense 2",
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "list",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      530,
      170,
      90,
      22.0
     ],
     "text": "/engine/list",
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "send",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20,
      200,
      160,
      22.0
     ],
     "text": "udpsend 127.0.0.1 9000"
    }
   },
   {
    "box": {
     "id": "recv",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20,
      260,
      120,
      22.0
     ],
     "text": "udpreceive 9001",
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "route",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 5,
     "patching_rect": [
      20,
      290,
      380,
      22.0
     ],
     "text": "route /rave/energy /rave/chaos /master/gain_db /engine/error",
     "outlettype": [
      "",
      "",
      "",
      "",
      ""
     ]
    }
   },
   {
    "box": {
     "id": "fb0",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20,
      330,
      60,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "format": 6,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "fb1",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      110,
      330,
      60,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "format": 6,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "fb2",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      200,
      330,
      60,
      22.0
     ],
     "outlettype": [
      "",
      "bang"
     ],
     "format": 6,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "err",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      290,
      330,
      130,
      22.0
     ],
     "text": "print engine-error"
    }
   },
   {
    "box": {
     "id": "rest",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      430,
      330,
      100,
      22.0
     ],
     "text": "print engine"
    }
   }
  ],
  "lines": [
   {
    "patchline": {
     "source": [
      "fl0",
      0
     ],
     "destination": [
      "pre0",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "pre0",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "fl1",
      0
     ],
     "destination": [
      "pre1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "pre1",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "fl2",
      0
     ],
     "destination": [
      "pre2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "pre2",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "route",
      0
     ],
     "destination": [
      "fb0",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "route",
      1
     ],
     "destination": [
      "fb1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "route",
      2
     ],
     "destination": [
      "fb2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "route",
      3
     ],
     "destination": [
      "err",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "route",
      4
     ],
     "destination": [
      "rest",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "lb",
      0
     ],
     "destination": [
      "sub",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "sub",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "calm",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "intense",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "list",
      0
     ],
     "destination": [
      "send",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "recv",
      0
     ],
     "destination": [
      "route",
      0
     ]
    }
   }
  ]
 }
}
