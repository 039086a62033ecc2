// PowerShell with encoded commands or download cradles.

rule powershell_encoded_command
{
    meta:
        score = 70
        description = "PowerShell started with a base64-encoded command"
    strings:
        $ps = /powershell(\.exe)?/ nocase
        $enc = /\s-(e|en|enc|enco|encod|encode|encoded|encodedc|encodedco|encodedcom|encodedcomm|encodedcomma|encodedcomman|encodedcommand)\s+[A-Za-z0-9+\/]{40,}={0,2}/ nocase
    condition:
        $ps and $enc
}

rule powershell_download_cradle
{
    meta:
        score = 75
        description = "PowerShell download cradle: fetches a script or file from the network and runs it"
    strings:
        $wc = /New-Object\s+(System\.)?Net\.WebClient/ nocase
        $dls = ".DownloadString(" nocase
        $dlf = ".DownloadFile(" nocase
        $iwr = /(Invoke-WebRequest|\biwr\b|Invoke-RestMethod|\birm\b)\s/ nocase
        $iex = /(\bIEX\b|Invoke-Expression)/ nocase
        $start = "Start-Process" nocase
        $bits = "Start-BitsTransfer" nocase
    condition:
        ($wc and ($dls or $dlf) and ($iex or $start or $dlf)) or
        ($iwr and $iex) or
        ($bits and $start)
}
