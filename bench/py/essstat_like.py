#!/usr/bin/python3
"""essstat_like: the approach of the original Python tool (psmode/essstat), rewritten here for
a timing comparison only: requests for the login POST and the statistics GET, BeautifulSoup
to find the page's scripts, regular expressions to read the JavaScript arrays. No logout, as
essstat does not log out. Needs Debian's python3-requests and python3-bs4.

  essstat_like.py -u USER -p PASS HOST[:PORT]
"""

import argparse
import re
import sys

import requests
from bs4 import BeautifulSoup

LINK = ["Link Down", "Auto", "10M Half", "10M Full", "100M Half", "100M Full", "1000M Full", ""]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-u", "--username", default="admin")
    p.add_argument("-p", "--password", required=True)
    p.add_argument("target")
    a = p.parse_args()
    base = f"http://{a.target}"
    headers = {"Referer": f"{base}/Logout.htm",
               "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) essstat-like benchmark"}
    s = requests.Session()
    s.post(f"{base}/logon.cgi", data={"username": a.username, "password": a.password,
                                      "cpassword": "", "logon": "Login"},
           headers=headers, timeout=5)
    r = s.get(f"{base}/PortStatisticsRpm.htm", headers={"Referer": f"{base}/"}, timeout=6)
    soup = BeautifulSoup(r.text, "html.parser")
    script = next((t.string for t in soup.find_all("script") if t.string and "max_port_num" in t.string),
                  None)
    if script is None:
        sys.exit("no statistics script in the page (login refused?)")
    ports = int(re.search(r"max_port_num\s*=\s*(\d+)", script).group(1))

    def array(name):
        m = re.search(name + r"\s*:\s*\[([^\]]*)\]", script)
        return [int(x) for x in m.group(1).split(",") if x.strip()]

    state, link, pkts = array("state"), array("link_status"), array("pkts")
    print("Port Status Link Status TxGoodPkt TxBadPkt RxGoodPkt RxBadPkt")
    for i in range(ports):
        tx_good, tx_bad, rx_good, rx_bad = pkts[4 * i:4 * i + 4]
        print(i + 1, "Enabled" if state[i] else "Disabled", LINK[link[i]] if link[i] < len(LINK) else "?",
              tx_good, tx_bad, rx_good, rx_bad)


if __name__ == "__main__":
    main()
