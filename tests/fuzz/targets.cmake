# The fuzz targets, shared by tests/fuzz/CMakeLists.txt (libFuzzer builds, TPLINK_FUZZ=ON)
# and tests/fuzz/replay.cmake (the replay tests of the normal build). Each NAME is
# tests/fuzz/fuzz_NAME.c; its inputs are tests/fuzz/corpus/NAME/, tests/fuzz/regressions/NAME/
# and the folders in FUZZ_SEEDS_NAME (relative to the source root). FUZZ_MAXLEN_NAME is
# libFuzzer's -max_len, FUZZ_DICT_NAME a dictionary in tests/fuzz/ (optional).
set(TPLINK_FUZZ_TARGETS
    kasa_frame iot_json smart_json disc20002 discovery klap aes set_cookie es_page es_js inventory
    duration es_html_diff)

set(FUZZ_MAXLEN_kasa_frame 70000) # one frame up to KASA_FRAME_MAX, and then some
set(FUZZ_DICT_kasa_frame iot.dict)
set(FUZZ_MAXLEN_iot_json 16384)
set(FUZZ_DICT_iot_json iot.dict)
set(FUZZ_SEEDS_iot_json sim/profiles)
set(FUZZ_MAXLEN_smart_json 16384)
set(FUZZ_DICT_smart_json smart.dict)
set(FUZZ_MAXLEN_disc20002 8300) # past DISC20002_REPLY_MAX
set(FUZZ_DICT_disc20002 smart.dict)
set(FUZZ_MAXLEN_discovery 8192)
set(FUZZ_DICT_discovery iot.dict)
set(FUZZ_MAXLEN_klap 4096)
set(FUZZ_MAXLEN_aes 4096)
set(FUZZ_DICT_aes smart.dict)
set(FUZZ_MAXLEN_set_cookie 1024)
set(FUZZ_DICT_set_cookie cookie.dict)
set(FUZZ_MAXLEN_es_page 12288) # real pages are 3-11 KB; longer inputs only slow it down
set(FUZZ_DICT_es_page easysmart.dict)
set(FUZZ_SEEDS_es_page tests/fixtures/easy-smart)
set(FUZZ_MAXLEN_es_js 8192)
set(FUZZ_DICT_es_js easysmart.dict)
set(FUZZ_MAXLEN_inventory 16384)
set(FUZZ_DICT_inventory inventory.dict)
set(FUZZ_SEEDS_inventory config/examples)
set(FUZZ_MAXLEN_duration 64)
set(FUZZ_DICT_duration duration.dict)
set(FUZZ_MAXLEN_es_html_diff 12288) # two full parses per codec: slow, like es_page
set(FUZZ_DICT_es_html_diff es_html.dict)
set(FUZZ_SEEDS_es_html_diff tests/fixtures/easy-smart)
