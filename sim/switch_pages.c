#include "sim/switch_pages.h"

/* The static parts are condensed from the real TL-SG108E v3 pages (MIT-licensed captures):
 * same data layout, same first bytes, same labels and login messages; the styling and
 * border-drawing code of the real pages is left out. */

static const char login_body[] =
    "<html> <head> <meta http-equiv=pragma content=no-cache> <meta http-equiv=expires "
    "content=\"wed, 26 Feb 1997 08:21:57 GMT\"> <script>"
    "function doOnclick(){var e;return\"\"==document.forms[0].username.value?(e='<SPAN "
    "class=\"WARN_NORMAL\" id=\"t_error6\">The user name can not be empty.</SPAN>',"
    "document.getElementById(\"ret_info\").innerHTML=e,document.getElementById(\"ret_info\")"
    ".style.display=\"block\",!1):\"\"==document.forms[0].password.value?(e='<SPAN "
    "class=\"WARN_NORMAL\" id=\"t_error8\">The user password can not be empty.</SPAN>',"
    "document.getElementById(\"ret_info\").innerHTML=e,document.getElementById(\"ret_info\")"
    ".style.display=\"block\",!1):void 0}"
    "window.parent!=window&&(window.parent.location=\"/\");var errType=logonInfo[0];"
    "var errText=[\"\",\"The user name or the password is wrong.\","
    "\"The user is not allowed to login.\","
    "\"The number of the user that allowed to login has been full.\","
    "\"The number of the login user has been full,it is allowed 16 people to login at the "
    "same time.\",\"The session is timeout.<br>Please login again.\"];"
    "window.onload=function(){0!=errType||-1==top.location.href.indexOf(\"logon.cgi\")?"
    "document.body.style.display=\"block\":document.location.href=\"/\";"
    "var r=document.getElementById(\"ret_info\");if(0==errType)r.style.display=\"none\";"
    "else{r.innerHTML='<SPAN class=\"WARN_NORMAL\">'+(errType<errText.length?"
    "errText[errType]:\"Unkonwn error\")+\"</SPAN>\",r.style.display=\"block\"}"
    "document.getElementById(\"username\").focus()};</script>"
    "<style type=text/css>body{margin:20px;font-family:Arial;font-size:12px}"
    "SPAN.WARN_NORMAL{color:red}</style></head>"
    "<body class=LOGIN_L style=display:none> <div id=center> <div id=center-main> "
    "<script>function doPrintfTable(){var a=\"\";"
    "a+='<FORM id=\"form0\" method=\"POST\" name=\"submitForm\"  action=\"/logon.cgi\">',"
    "a+='<DIV id=\"ret_info\" style=\"display:none\"></DIV>',"
    "a+='<TABLE align=\"center\" border=0><TR><TD><SPAN id=\"t_username\">User Name:</SPAN>"
    "</TD><TD><INPUT type=\"text\" value=\"\" id=\"username\" name=\"username\" size=\"17\" "
    "maxlength=\"16\"></TD></TR>',"
    "a+='<TR><TD><SPAN id=\"t_userpwd\">Password:</SPAN></TD><TD><INPUT type=\"password\" "
    "value=\"\" id=\"password\" name=\"password\" size=\"17\" maxlength=\"16\"></TD></TR>',"
    "a+='<TR><TD colspan=\"2\"><INPUT type=\"submit\" name=\"logon\" id=\"logon\" "
    "value=\"Login\" onClick=\"return doOnclick();\"></TD></TR></TABLE>',"
    "a+=\"</FORM>\",document.write(a)}doPrintfTable();</script>"
    "<table cellspacing=0 cellpadding=0 border=0 align=center> <tr> <td> "
    "<span>Copyright&nbsp;&copy; <script>document.write(g_year);</script></span>"
    "<span id=t_corporation>&nbsp;TP-LINK Technologies Co., Ltd. </span></td> </tr> "
    "</table> </div></div> </body> </html> <script></script>";

bool swp_login(struct strbuf *b, int err_type)
{
    strbuf_printf(b,
                  "<script>\nvar logonInfo = new Array(\n%d,\n0,0);\nvar g_Lan = 452;\n"
                  "var g_year=2016;\n</script>\n",
                  err_type);
    return strbuf_puts(b, login_body);
}

bool swp_frameset(struct strbuf *b, const char *title)
{
    strbuf_puts(b, "<!DOCTYPE html>\n<script>\nvar g_Lan=1,g_level=1,g_year=2016,g_title='");
    /* title is the model name from the built-in table: no quoting needed */
    strbuf_puts(b, title);
    strbuf_puts(b, "';\n</script>\n");
    strbuf_puts(b, "<html> <head> <meta charset=\"gb2312\"> <title>");
    strbuf_puts(b, title);
    return strbuf_puts(
        b, "</title> </head> <frameset rows=\"88,*\" frameborder=0 border=0> "
           "<frame name=topFrame src=\"Top.htm\" scrolling=no noresize> "
           "<frameset cols=\"190,*\" frameborder=0 border=0> "
           "<frameset rows=\"60,*\" frameborder=0 border=0> "
           "<frame name=productFrame src=\"Product.htm\" scrolling=no noresize> "
           "<frame name=leftFrame src=\"Menu.htm\" scrolling=auto noresize> </frameset> "
           "<frameset rows=\"30,*\" frameborder=0 border=0> "
           "<frame name=tabFrame src=\"tab.htm\" scrolling=no noresize> "
           "<frame name=mainFrame src=\"SystemInfoRpm.htm\" scrolling=auto> </frameset> "
           "</frameset> </frameset> </html>");
}

static void int_array(struct strbuf *b, const char *name, const struct swp_port *p, unsigned n,
                      int which)
{
    strbuf_printf(b, "%s:[", name);
    for (unsigned i = 0; i < n; i++) {
        unsigned v = which == 0 ? (unsigned)p[i].enabled : (unsigned)p[i].link;
        strbuf_printf(b, "%u,", v);
    }
    strbuf_puts(b, "0,0]");
}

static void const_array(struct strbuf *b, const char *name, unsigned n, unsigned value)
{
    strbuf_printf(b, "%s:[", name);
    for (unsigned i = 0; i < n; i++)
        strbuf_printf(b, "%u,", value);
    strbuf_puts(b, "0,0]");
}

static const char stats_labels[] =
    "var state_info=new Array(\"Disabled\",\"Enabled\"),link_info=new Array(\"Link Down\","
    "\"Auto\",\"10Half\",\"10Full\",\"100Half\",\"100Full\",\"1000Full\",\"\");";

static const char stats_form_open[] =
    "<body> <div id=div_tip_mask class=TIP_MASK> <div id=div_tip_svr class=TIP><span "
    "id=sp_tip_svr class=TIP_CONTENT></span></div> </div>  <form name=port_statistics "
    "action=port_statistics_set.cgi enctype=multipart/form-data> <fieldset> <legend> <span "
    "id=portStatisticsInformation class=PAIN_TITLE>Port Statistics Info</span> </legend> "
    "<div id=div_sec_title> <table class=BORDER> ";

/* Renders the rows from arrays st, ls and pk that the script before it fills in. */
static const char stats_rows[] =
    "var i,td=\"<td class=TABLE_HEAD_BOTTOM align=center width=78px>\",h=[\"Port\",\"Status\","
    "\"Link Status\",\"TxGoodPkt\",\"TxBadPkt\",\"RxGoodPkt\",\"RxBadPkt\"];"
    "docW(\"<tr class=TD_FIRST_ROW>\");for(i=0;i<h.length;i++)docW(td+h[i]+\"</td>\");"
    "docW(\"</tr>\");for(i=0;i<max_port_num;i++){docW(\"<tr>\"+td+\"Port \"+(i+1)+\"</td>\"+"
    "td+state_info[st[i]]+\"</td>\"+td+link_info[ls[i]]+\"</td>\");"
    "for(var k=0;k<4;k++)docW(td+pk[4*i+k]+\"</td>\");docW(\"</tr>\")}</script></table>";

static const char stats_form_close[] =
    "<table class=BTN_WRAPPER align=center> <tr> <td class=BTN_WRAPPER><a class=BTN> <input "
    "type=button value=Refresh name=refresh onclick=\"document.location.href="
    "'PortStatisticsRpm.htm'\" class=\"BTN_NORMAL_BTN\"> </a>  <td class=BTN_WRAPPER><a "
    "class=BTN> <input type=submit value=Clear id=btn_slt_clear name=clear "
    "class=\"BTN_NORMAL_BTN\"> </a> </table> </div> </fieldset> </form> "
    "<script>\"\"!=tip&&(ShowTips(\"sp_tip_svr\",tip),startDownScroll(\"div_tip_svr\"));"
    "</script>";

bool swp_port_statistics(struct strbuf *b, const struct swp_port *p, unsigned n, unsigned middle)
{
    strbuf_printf(b,
                  "<!DOCTYPE html>\n<script>\nvar max_port_num = %u;\n"
                  "var port_middle_num  = %u;\nvar all_info = {\n",
                  n, middle);
    int_array(b, "state", p, n, 0);
    strbuf_puts(b, ",\n");
    int_array(b, "link_status", p, n, 1);
    strbuf_puts(b, ",\npkts:[");
    for (unsigned i = 0; i < n; i++)
        strbuf_printf(b, "%lu,%lu,%lu,%lu,", (unsigned long)p[i].pkts[0],
                      (unsigned long)p[i].pkts[1], (unsigned long)p[i].pkts[2],
                      (unsigned long)p[i].pkts[3]);
    strbuf_puts(b, "0,0]\n};\nvar tip = \"\";\n</script>\n");
    strbuf_puts(b, "<html> <head> <meta charset=\"gb2312\"> "
                   "<script>document.write(top.Abbrev);</script>"
                   "<script type=text/javascript>incCss(\"main.css\"),incJs(\"ui.js\"),"
                   "incJs(\"tips.js\");");
    strbuf_puts(b, stats_labels);
    strbuf_puts(b, "</script>");
    strbuf_puts(b, stats_form_open);
    strbuf_puts(b, "<script>var st=all_info.state,ls=all_info.link_status,pk=all_info.pkts;");
    strbuf_puts(b, stats_rows);
    return strbuf_puts(b, stats_form_close);
}

static void tmp_info_string(struct strbuf *b, const char *name, const struct swp_port *p,
                            unsigned from, unsigned to)
{
    strbuf_printf(b, "var %s = \"", name);
    for (unsigned i = from; i < to; i++)
        strbuf_printf(b, "%s%u %u %lu %lu %lu %lu", i == from ? "" : " ", (unsigned)p[i].enabled,
                      (unsigned)p[i].link, (unsigned long)p[i].pkts[0], (unsigned long)p[i].pkts[1],
                      (unsigned long)p[i].pkts[2], (unsigned long)p[i].pkts[3]);
    strbuf_puts(b, "\";\n");
}

bool swp_port_statistics_tmp_info(struct strbuf *b, const struct swp_port *p, unsigned n,
                                  unsigned middle)
{
    unsigned split = middle < n ? middle : n;
    strbuf_printf(b,
                  "<!DOCTYPE html>\n<html> <head> <meta charset=\"gb2312\"> <script>\n"
                  "var max_port_num = %u;\nvar port_middle_num  = %u;\n",
                  n, middle);
    strbuf_puts(b, "var link_info = new Array(\"Link Down\",\"Auto\",\"10Half\",\"10Full\","
                   "\"100Half\",\"100Full\",\"1000Full\",\"\");\n"
                   "var state_info = new Array(\"Disabled\",\"Enabled\");\n"
                   "var tip = \"\";\n</script> </head>");
    strbuf_puts(b, stats_form_open);
    strbuf_puts(b, "<script>\n");
    tmp_info_string(b, "tmp_info", p, 0, split);
    tmp_info_string(b, "tmp_info2", p, split, n);
    strbuf_puts(b, "var f=(tmp_info+\" \"+tmp_info2).split(\" \"),st=[],ls=[],pk=[];"
                   "for(var j=0;j<max_port_num;j++){st.push(f[6*j]),ls.push(f[6*j+1]);"
                   "for(var k=2;k<6;k++)pk.push(f[6*j+k])}");
    strbuf_puts(b, stats_rows);
    return strbuf_puts(b, stats_form_close);
}

/* descriStr is user text: escape what would end the JS string or the script. */
static void js_string(struct strbuf *b, const char *s)
{
    strbuf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            strbuf_printf(b, "\\%c", c);
        else if (c == '<' || c < 0x20 || c == 0x7f)
            strbuf_printf(b, "\\x%02x", c);
        else
            strbuf_putc(b, (char)c);
    }
    strbuf_putc(b, '"');
}

bool swp_system_info(struct strbuf *b, const struct swp_system *s)
{
    const char *names[] = {"descriStr",  "macStr",      "ipStr",      "netmaskStr",
                           "gatewayStr", "firmwareStr", "hardwareStr"};
    const char *values[] = {s->description, s->mac,      s->ip,      s->netmask,
                            s->gateway,     s->firmware, s->hardware};
    strbuf_puts(b, "<!DOCTYPE html>\n<script>\nvar info_ds = {\n");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        strbuf_printf(b, "%s:[\n", names[i]);
        js_string(b, values[i]);
        strbuf_puts(b, i + 1 < sizeof names / sizeof names[0] ? "\n],\n" : "\n]\n");
    }
    strbuf_puts(b, "};\nvar tip = \"\";\n</script>\n");
    return strbuf_puts(
        b, "<html> <head> <meta charset=\"gb2312\"> "
           "<script>document.write(top.Abbrev);</script><script type=text/javascript>"
           "function loadValue(){$id(\"sp_devicetype\").innerHTML=info_ds.descriStr,"
           "$id(\"sp_macaddress\").innerHTML=info_ds.macStr,$id(\"sp_ipaddress\").innerHTML="
           "info_ds.ipStr,$id(\"sp_netmask\").innerHTML=info_ds.netmaskStr,$id(\"sp_gateway\")"
           ".innerHTML=info_ds.gatewayStr,$id(\"sp_firewareversion\").innerHTML="
           "info_ds.firmwareStr,$id(\"sp_hardwareversion\").innerHTML=info_ds.hardwareStr}"
           "incCss(\"main.css\");</script><body> <fieldset> <legend> <span "
           "id=systemInformation class=PAIN_TITLE>System Info</span> </legend> <table "
           "class=BORDER width=500> <tbody> "
           "<tr> <td class=TD_FIRST_COL width=160>Device Description <td><span "
           "id=sp_devicetype>TL-SG105E</span> "
           "<tr> <td class=TD_FIRST_COL width=160>MAC Address <td><span "
           "id=sp_macaddress>00-0A-EB-00-13-01</span> "
           "<tr> <td class=TD_FIRST_COL width=160>IP Address <td><span "
           "id=sp_ipaddress>192.168.0.1</span> "
           "<tr> <td class=TD_FIRST_COL width=160>Subnet Mask <td><span "
           "id=sp_netmask>255.255.255.0</span> "
           "<tr> <td class=TD_FIRST_COL width=160>Default Gateway <td><span "
           "id=sp_gateway>192.168.0.1</span> "
           "<tr> <td class=TD_FIRST_COL width=160>Firmware Version <td><span "
           "id=sp_firewareversion>1.0.0 Build 20150513 Rel.00000</span> "
           "<tr> <td class=TD_FIRST_COL width=160>Hardware Version <td><span "
           "id=sp_hardwareversion>TL-SG105E 2.0</span> </table> "
           "<script type=text/javascript>loadValue();</script> </fieldset> "
           "<script>\"\"!=tip&&(ShowTips(\"sp_tip_svr\",tip),startDownScroll(\"div_tip_svr\"));"
           "</script>");
}

bool swp_port_setting(struct strbuf *b, const struct swp_port *p, unsigned n, unsigned middle)
{
    strbuf_printf(b,
                  "<!DOCTYPE html>\n<script>\nvar max_port_num = %u;\n"
                  "var port_middle_num  = %u;\nvar all_info = {\n",
                  n, middle);
    int_array(b, "state", p, n, 0);
    strbuf_puts(b, ",\n");
    const_array(b, "trunk_info", n, 0);
    strbuf_puts(b, ",\n");
    const_array(b, "spd_cfg", n, 1);
    strbuf_puts(b, ",\n");
    int_array(b, "spd_act", p, n, 1);
    strbuf_puts(b, ",\n");
    const_array(b, "fc_cfg", n, 0);
    strbuf_puts(b, ",\n");
    const_array(b, "fc_act", n, 0);
    strbuf_puts(b, "\n};\nvar tip = \"\";\n</script>\n");
    return strbuf_puts(
        b, "<html> <head> <meta charset=\"gb2312\"> "
           "<script>document.write(top.Abbrev);</script><script type=text/javascript>"
           "incCss(\"main.css\"),incJs(\"PortSetting.js\");var trunk_info=new Array(\"\","
           "\" (LAG1)\",\" (LAG2)\",\" (LAG3)\",\" (LAG4)\",\" (LAG5)\",\" (LAG6)\",\" (LAG7)\","
           "\" (LAG8)\"),state_info=new Array(\"Disabled\",\"Enabled\"),speed_info=new "
           "Array(\"Link Down\",\"Auto\",\"10MH\",\"10MF\",\"100MH\",\"100MF\",\"1000MF\",\"\"),"
           "flow_info=new Array(\"Off\",\"On\");</script><body> <form name=port_setting "
           "action=port_setting.cgi enctype=multipart/form-data> <fieldset> <legend>Port "
           "Setting</legend> <div> <table class=BORDER> <tr class=TABLE_HEAD> <td "
           "align=center width=85px>Port  <td align=center width=78px>Status  <td "
           "align=center>Speed/Duplex Config <td align=center>Speed/Duplex Actual <td "
           "align=center>Flow Control Config <td align=center>Flow Control Actual "
           "<script type=text/javascript>show_port_setting_all();</script></table></div> "
           "</fieldset> </form> "
           "<script>\"\"!=tip&&(ShowTips(\"sp_tip_svr\",tip),startDownScroll(\"div_tip_svr\"));"
           "</script>");
}

static void poe_array(struct strbuf *b, const char *name, const struct swp_poe_port *p, unsigned n,
                      int which, bool last)
{
    strbuf_printf(b, "%s:[", name);
    for (unsigned i = 0; i < n; i++) {
        unsigned v = 0;
        switch (which) {
        case 0:
            v = p[i].enabled;
            break;
        case 1:
            v = p[i].priority;
            break;
        case 2:
            v = p[i].limit_dw;
            break;
        case 3:
            v = p[i].power_dw;
            break;
        case 4:
            v = p[i].current_ma;
            break;
        case 5:
            v = p[i].voltage_dv;
            break;
        case 6:
            v = p[i].pdclass;
            break;
        default:
            v = p[i].status;
            break;
        }
        strbuf_printf(b, "%s%u", i ? "," : "", v);
    }
    strbuf_puts(b, last ? "]\n" : "],\n");
}

bool swp_poe(struct strbuf *b, const struct swp_poe_port *p, unsigned n, unsigned budget_dw)
{
    unsigned used = 0;
    for (unsigned i = 0; i < n; i++)
        used += p[i].power_dw;
    unsigned remain = used < budget_dw ? budget_dw - used : 0;
    strbuf_printf(b, "<!DOCTYPE html>\n<script>\nvar poe_port_num = %u;\n", n);
    strbuf_puts(b, "var selState = new Array(");
    for (unsigned i = 0; i < n; i++)
        strbuf_puts(b, i ? ",0" : "0");
    strbuf_printf(b,
                  ");\nvar globalConfig = {\nsystem_power_limit:%u,\n"
                  "system_power_limit_min:10,\nsystem_power_limit_max:%u,\n"
                  "system_power_consumption:%u,\nsystem_power_remain:%u\n};\n"
                  "var portConfig ={\n",
                  budget_dw, budget_dw, used, remain);
    static const char *const names[] = {"state",   "priority", "powerlimit", "power",
                                        "current", "voltage",  "pdclass",    "powerstatus"};
    for (int i = 0; i < 8; i++)
        poe_array(b, names[i], p, n, i, i == 7);
    strbuf_puts(b, "};\nvar tip = \"\";\n</script>\n");
    return strbuf_puts(
        b, "<html> <head> <meta charset=\"gb2312\"> "
           "<script>document.write(top.Abbrev);</script><script type=text/javascript>"
           "incCss(\"main.css\"),incJs(\"PoeConfig.js\");var pri_info=new Array(\"High\","
           "\"Middle\",\"Low\"),poe_state_info=new Array(\"Disable\",\"Enable\"),"
           "status_info=new Array(\"Off\",\"Turning on\",\"On\",\"Overload\",\"Short\","
           "\"Nonstandard PD\",\"Voltage high\",\"Voltage low\",\"Hardware fault\","
           "\"Overtemperature\");</script><body> <form name=poe_config "
           "action=poe_port_config.cgi> <fieldset> <legend>PoE Config</legend> <div> <table "
           "class=BORDER> <tr class=TABLE_HEAD> <td align=center>Port <td "
           "align=center>PoE Status <td align=center>PoE Priority <td align=center>Power "
           "Limit (W) <td align=center>Power (W) <td align=center>Current (mA) <td "
           "align=center>Voltage (V) <td align=center>PD Class <td align=center>Power Status "
           "<script type=text/javascript>show_poe_config_all();</script></table></div> "
           "</fieldset> </form> "
           "<script>\"\"!=tip&&(ShowTips(\"sp_tip_svr\",tip),startDownScroll(\"div_tip_svr\"));"
           "</script>");
}

bool swp_http500(struct strbuf *b)
{
    return strbuf_puts(b, "<html><head><title>500 Internal Server Error</title></head><body>"
                          "<h1>500 Internal Server Error</h1></body></html>");
}
